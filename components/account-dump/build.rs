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
    for i in 0..REGIONS {
        writeln!(
            s,
            "tunnelkit_runtime::setvar!(\n    /// Address of accounting region {i} (0: not mapped).\n    static tunnelkit_account_region_{i}\n);"
        )
        .unwrap();
    }
    writeln!(s, "/// Every region's address setvar, by region index.").unwrap();
    writeln!(s, "static REGIONS: [&tunnelkit_runtime::Patched<u64>; {REGIONS}] = [").unwrap();
    for i in 0..REGIONS {
        writeln!(s, "    &tunnelkit_account_region_{i},").unwrap();
    }
    writeln!(s, "];").unwrap();
    for k in 0..METERS {
        writeln!(
            s,
            "tunnelkit_runtime::setvar!(\n    /// Address of meter page {k}, read-only (0: not mapped).\n    static tunnelkit_account_meter_{k}\n);"
        )
        .unwrap();
    }
    writeln!(s, "/// Every meter page's address setvar.").unwrap();
    writeln!(s, "static METERS: [&tunnelkit_runtime::Patched<u64>; {METERS}] = [").unwrap();
    for k in 0..METERS {
        writeln!(s, "    &tunnelkit_account_meter_{k},").unwrap();
    }
    writeln!(s, "];").unwrap();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("regions.rs"), s).expect("write regions.rs");
}
