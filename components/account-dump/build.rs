//! Generates one setvar per accounting region the accountant may map
//! (`tunnelkit_account_region_<i>`, i in 0..62: a system has at most 63 PDs,
//! the accountant included) and the table of them.

use std::fmt::Write as _;
use std::path::PathBuf;

/// Regions the accountant can map.
const REGIONS: usize = 62;

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
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("regions.rs"), s).expect("write regions.rs");
}
