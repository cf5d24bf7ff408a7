//! The `tunnelkit` host tool as a library: find the Microkit SDK, build a
//! system's PD images and the bootable image, boot it in QEMU and judge the
//! console output.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod account;
pub mod account_pd;
pub mod bench;
pub mod board;
pub mod boot;
pub mod build;
pub mod check;
pub mod console;
pub mod console_pod;
pub mod elf_image;
pub mod net;
pub mod pd_cargo;
pub mod percore;
pub mod platform;
pub mod progress;
pub mod qemu;
pub mod scaffold;
pub mod sdf;
pub mod sdk;
pub mod supervision;
pub mod trace;
pub mod trace_check;
pub mod trace_pd;
pub mod workspace;
