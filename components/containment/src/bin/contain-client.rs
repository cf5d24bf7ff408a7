//! The containment client: injects faults and panics into pods, directly and
//! through a nested call, and checks that every injection comes back as
//! `Err(Fault)`, that the pod then serves again with fresh state, and that no
//! call hangs (a hang stops the run at its timeout). Prints one summary line
//! and `tunnelkit: containment passed`.
//!
//! Calls: `inject` on channel 1 (pod B, which calls pod C) and 2 (pod C).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use containment::{Count, inject};
use tunnelkit_runtime::{Channel, Handler, debug_println, protection_domain};
use tunnelkit_tunnel::CallError;

const POD_B: Channel = Channel::new(1);
const POD_C: Channel = Channel::new(2);
/// Faults injected directly.
const FAULTS: u64 = 1000;
/// Panics injected (each prints a line).
const PANICS: u64 = 5;
/// Faults injected through the nested call B -> C.
const NESTED: u64 = 100;

protection_domain!(init);

struct Client;

#[derive(Default)]
struct Tally {
    injected: u64,
    errors: u64,
    fresh_after: u64,
}

fn init() -> Client {
    let mut b = inject::Client::on(POD_B);
    let mut c = inject::Client::on(POD_C);
    let mut faults = Tally::default();
    let mut panics = Tally::default();
    let mut nested = Tally::default();
    for i in 0..FAULTS + PANICS + NESTED {
        // Some work first, so that a restart has state to throw away.
        let _ = c.bump(&());
        let _ = c.bump(&());
        let (tally, result) = if i < FAULTS {
            (&mut faults, c.fault(&()))
        } else if i < FAULTS + PANICS {
            (&mut panics, c.panic(&()))
        } else {
            (&mut nested, b.forward_fault(&()))
        };
        tally.injected += 1;
        if result == Err(CallError::Fault) {
            tally.errors += 1;
        }
        // The pod serves again, with fresh state: the count starts over.
        if c.bump(&()) == Ok(Count { value: 1 }) {
            tally.fresh_after += 1;
        }
    }
    debug_println!(
        "containment: faults={} fault_errors={} panics={} panic_errors={} nested={} nested_errors={} fresh_state={}/{} hangs=0",
        faults.injected,
        faults.errors,
        panics.injected,
        panics.errors,
        nested.injected,
        nested.errors,
        faults.fresh_after + panics.fresh_after + nested.fresh_after,
        FAULTS + PANICS + NESTED
    );
    let all = [&faults, &panics, &nested];
    if all.iter().all(|t| t.errors == t.injected && t.fresh_after == t.injected) {
        debug_println!("tunnelkit: containment passed");
    } else {
        panic!("containment failed: not every injection produced Err(Fault) with a fresh pod");
    }
    Client
}

impl Handler for Client {
    type Error = Infallible;
}
