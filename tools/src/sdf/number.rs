//! Numbers as the microkit tool reads them. Most attributes are Microkit
//! "numbers" (decimal or `0x` hexadecimal, `_` separators allowed); a few
//! (channel end and IRQ ids, IRQ numbers, I/O port ids and sizes, vCPU ids)
//! the tool reads as plain decimal. [`syntax`] says which.

/// How the tool reads an attribute's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// Decimal or `0x` hex, `_` separators allowed.
    Num,
    /// Plain decimal only.
    Dec,
    /// `true` or `false`.
    Bool,
    /// Anything else (names, paths, perms…).
    Text,
}

/// The syntax of attribute `attr` of element `elem`.
pub fn syntax(elem: &str, attr: &str) -> Syntax {
    match (elem, attr) {
        ("protection_domain", "priority" | "budget" | "period" | "stack_size" | "cpu" | "id") => Syntax::Num,
        ("protection_domain", "passive" | "smc" | "fpu") => Syntax::Bool,
        ("memory_region", "size" | "page_size" | "phys_addr") => Syntax::Num,
        ("map", "vaddr") => Syntax::Num,
        ("map", "cached") => Syntax::Bool,
        ("end", "id") => Syntax::Dec,
        ("end", "notify" | "pp") => Syntax::Bool,
        ("irq", "irq" | "id" | "pin" | "vector" | "ioapic" | "handle") => Syntax::Dec,
        ("ioport", "id" | "size") => Syntax::Dec,
        ("ioport", "addr") => Syntax::Num,
        ("vcpu", "id") => Syntax::Dec,
        ("vcpu", "cpu") => Syntax::Num,
        ("virtual_machine", "priority" | "budget" | "period") => Syntax::Num,
        ("cap_tcb" | "cap_sc" | "cap_vspace", "slot") => Syntax::Num,
        ("io_address_space", "domain_id") => Syntax::Num,
        ("iomap", "iovaddr") => Syntax::Num,
        ("domain", "id") => Syntax::Num,
        ("domain_schedule", "start_index" | "index_shift") => Syntax::Num,
        _ => Syntax::Text,
    }
}

/// Microkit's "number": decimal or `0x` hex, `_` separators allowed.
pub fn parse_num(s: &str) -> Option<u64> {
    let t = s.replace('_', "");
    match t.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => t.parse::<u64>().ok(),
    }
}

/// Plain decimal.
pub fn parse_dec(s: &str) -> Option<u64> {
    s.parse::<u64>().ok()
}

/// `value` of attribute `attr` of `elem`, read as the tool reads it.
pub fn parse_attr(elem: &str, attr: &str, value: &str) -> Option<u64> {
    match syntax(elem, attr) {
        Syntax::Dec => parse_dec(value),
        _ => parse_num(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_the_tool_reads_them() {
        assert_eq!(parse_num("0x2"), Some(2));
        assert_eq!(parse_num("1_000"), Some(1000));
        assert_eq!(parse_num("0x_10"), Some(16));
        assert_eq!(parse_num("0X10"), None);
        assert_eq!(parse_num("-1"), None);
        assert_eq!(parse_dec("0x2"), None);
        assert_eq!(parse_attr("protection_domain", "id", "0x2"), Some(2));
        assert_eq!(parse_attr("end", "id", "0x2"), None);
    }
}
