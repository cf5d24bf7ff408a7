//! Safe code cannot reach memory or I/O ports the system description did not
//! give it (issue: "no forging"). Each case is a `#![forbid(unsafe_code)]`
//! crate checked for a PD target (`cargo check --target aarch64-unknown-none`,
//! and x86_64-unknown-none for I/O ports) against tunnelkit-runtime: the
//! forging ones must fail with the named compiler error, the allowed one —
//! addresses from setvars the microkit tool patches, a port range the system
//! description declares — must compile. Needs no SDK.

use std::path::{Path, PathBuf};

use tunnelkit_tests::{cargo, output_text, repo_root, say};

/// One crate: its name, the PD target, the body of its `lib.rs` and the
/// compiler error it must fail with (`None`: it must compile).
struct Case {
    name: &'static str,
    target: &'static str,
    body: &'static str,
    error: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        name: "patched_word_of_its_own",
        target: "aarch64-unknown-none",
        body: "use tunnelkit_runtime::{Patched, SharedMemory};\n\
               static ADDR: Patched<u64> = Patched::new(0x4000_0000);\n\
               static SIZE: Patched<u64> = Patched::new(0x1000);\n\
               pub fn forge() -> Option<SharedMemory> { SharedMemory::from_setvars(&ADDR, &SIZE) }",
        error: Some("E0624"), // associated function `new` is private
    },
    Case {
        name: "shared_region_literal",
        target: "aarch64-unknown-none",
        body: "use tunnelkit_runtime::SharedMemory;\n\
               pub fn forge() -> SharedMemory { SharedMemory { base: 0x4000_0000, size: 0x1000 } }",
        error: Some("E0451"), // fields are private
    },
    Case {
        name: "device_region_of_its_own",
        target: "aarch64-unknown-none",
        body: "use tunnelkit_runtime::{DeviceMemory, Patched};\n\
               static UART: Patched<u64> = Patched::new(0x0900_0000);\n\
               pub fn forge() -> Option<DeviceMemory> { DeviceMemory::from_setvars(&UART, &UART) }",
        error: Some("E0624"),
    },
    Case {
        name: "device_region_literal",
        target: "aarch64-unknown-none",
        body: "use tunnelkit_runtime::DeviceMemory;\n\
               pub fn forge() -> DeviceMemory { DeviceMemory { base: 0x0900_0000, size: 0x1000 } }",
        error: Some("E0451"),
    },
    Case {
        name: "io_port_literal",
        target: "x86_64-unknown-none",
        body: "use tunnelkit_runtime::IoPort;\n\
               pub fn forge() -> IoPort { IoPort(7) }",
        error: Some("E0423"), // a tuple struct with private fields
    },
    Case {
        name: "io_port_undeclared",
        target: "x86_64-unknown-none",
        body: "use tunnelkit_runtime::IoPort;\n\
               pub fn forge() -> IoPort { IoPort::new(7) }",
        error: Some("E0599"), // no such constructor: only `IoPort::declared`
    },
    Case {
        name: "unsafe_pointer",
        target: "aarch64-unknown-none",
        body: "pub fn forge() { unsafe { core::ptr::write_volatile(0x0900_0000 as *mut u8, b'x') } }",
        error: Some("forbid(unsafe_code)"),
    },
    Case {
        name: "what_the_system_description_gives",
        target: "x86_64-unknown-none",
        body: "use tunnelkit_runtime::{ChannelError, DeviceMemory, IoPort, SharedMemory};\n\
               tunnelkit_runtime::region_setvars!(static page, page_size);\n\
               tunnelkit_runtime::region_setvars!(static regs, regs_size);\n\
               pub fn shared() -> Option<SharedMemory> { SharedMemory::from_setvars(&page, &page_size) }\n\
               pub fn lent() -> Option<SharedMemory> { SharedMemory::lent(1) }\n\
               pub fn device() -> Option<DeviceMemory> { DeviceMemory::from_setvars(&regs, &regs_size) }\n\
               pub fn ports() -> Result<IoPort, ChannelError> { IoPort::declared(0) }",
        error: None,
    },
];

/// Writes the cases as one cargo workspace in `dir`.
fn write_workspace(dir: &Path) {
    let runtime = repo_root().join("tunnel-pd/runtime");
    let members: Vec<String> = CASES.iter().map(|c| format!("\"{}\"", c.name)).collect();
    std::fs::write(dir.join("Cargo.toml"), format!("[workspace]\nresolver = \"2\"\nmembers = [{}]\n", members.join(", "))).unwrap();
    for c in CASES {
        let src = dir.join(c.name).join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(
            dir.join(c.name).join("Cargo.toml"),
            format!(
                "[package]\nname = \"{}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\ntunnelkit-runtime = {{ path = {:?} }}\n",
                c.name.replace('_', "-"),
                runtime.display().to_string()
            ),
        )
        .unwrap();
        std::fs::write(src.join("lib.rs"), format!("#![no_std]\n#![forbid(unsafe_code)]\n\n{}\n", c.body)).unwrap();
    }
}

#[test]
fn safe_code_cannot_forge_memory_or_io_ports() {
    let dir: PathBuf = std::env::temp_dir().join(format!("tunnelkit-no-forging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    write_workspace(&dir);
    // One target directory for every run, so the runtime is built once per target.
    let target_dir = repo_root().join("target/no-forging");
    let mut failures = Vec::new();
    for c in CASES {
        let out = cargo()
            .current_dir(&dir)
            .args(["check", "--quiet", "--target", c.target, "-p", &c.name.replace('_', "-")])
            .env("CARGO_TARGET_DIR", &target_dir)
            .env_remove("RUSTFLAGS")
            .output()
            .unwrap();
        let log = output_text(&out);
        let verdict = match c.error {
            None if out.status.success() => Ok("compiles".to_string()),
            None => Err(format!("should compile:\n{log}")),
            Some(_) if out.status.success() => Err("compiled, but it forges".to_string()),
            Some(code) if log.contains(code) => Ok(format!("rejected ({code})")),
            Some(code) => Err(format!("rejected, but not with {code}:\n{log}")),
        };
        match verdict {
            Ok(v) => say(&format!("no_forging: {}: {v}", c.name)),
            Err(e) => failures.push(format!("{}: {e}", c.name)),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
