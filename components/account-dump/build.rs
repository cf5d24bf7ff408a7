//! Generates one setvar per accounting region the accountant may map
//! (`tunnelkit_account_region_<i>`, i in 0..62: a system has at most 63 PDs,
//! the accountant included) and the table of them, and one per meter page
//! (`tunnelkit_account_meter_<k>`, k in 0..15: one meter per core but core 0).

use std::fmt::Write as _;
use std::path::PathBuf;

/// Regions the accountant can map.
const REGIONS: usize = 62;
/// Meter pages it can map: one per core besides core 0 (x86_64 QEMU takes up to 16 cores).
const METERS: usize = 15;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let mut s = String::new();
    table(&mut s, "REGIONS", "tunnelkit_account_region", REGIONS, "accounting region");
    table(&mut s, "METERS", "tunnelkit_account_meter", METERS, "meter page (read-only)");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("regions.rs"), s).expect("write regions.rs");
}

/// `count` address setvars `<prefix>_<i>` and the static `table` of them, by index.
fn table(s: &mut String, table: &str, prefix: &str, count: usize, what: &str) {
    for i in 0..count {
        writeln!(s, "tunnelkit_runtime::setvar!(\n    /// Address of {what} {i} (0: not mapped).\n    static {prefix}_{i}\n);").unwrap();
    }
    writeln!(s, "/// Every {what}'s address setvar, by index.").unwrap();
    writeln!(s, "static {table}: [&tunnelkit_runtime::Patched<u64>; {count}] = [").unwrap();
    for i in 0..count {
        writeln!(s, "    &{prefix}_{i},").unwrap();
    }
    writeln!(s, "];").unwrap();
}
