//! A PD that panics during init, used to check that a panic is reported with
//! the PD's name and location and that `tunnelkit run` fails on it.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use tunnelkit_runtime::{Handler, protection_domain};

protection_domain!(init);

struct Panicker;

fn init() -> Panicker {
    let budget: u32 = 3;
    panic!("deliberate panic to test failure reporting (budget {budget})");
}

impl Handler for Panicker {
    type Error = Infallible;
}
