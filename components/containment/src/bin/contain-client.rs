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
use tunnelkit_runtime::{Channel, Handler, debug_println, protection_domain, setvar};
use tunnelkit_tunnel::CallError;

const POD_B: Channel = Channel::new(1);
const POD_C: Channel = Channel::new(2);
/// Faults injected directly.
const FAULTS: u64 = 1000;
/// Panics injected (each prints a line).
const PANICS: u64 = 5;
/// Faults injected through the nested call B -> C.
const NESTED: u64 = 100;
/// Overruns injected (each costs the rest of a budget and a refill); only
/// where the system supervises overruns (see `overrun_channel`).
const OVERRUNS: u64 = 100;

setvar!(
    /// Set (to the channel id of pod C) by `<end setvar_id="overrun_channel">`
    /// in systems whose supervisor turns overruns into errors.
    static overrun_channel
);

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
    let mut overruns = Tally::default();
    // Faults, or (when overruns are supervised) overruns: each system tests one.
    let overrun_system = overrun_channel.get() == u64::from(POD_C.index());
    let (first, count) = if overrun_system { (FAULTS + PANICS + NESTED, OVERRUNS) } else { (0, FAULTS + PANICS + NESTED) };
    for i in first..first + count {
        // Some work first, so that a restart has state to throw away.
        let _ = c.bump(&());
        let _ = c.bump(&());
        let (tally, result) = if i < FAULTS {
            (&mut faults, c.fault(&()))
        } else if i < FAULTS + PANICS {
            (&mut panics, c.panic(&()))
        } else if i < FAULTS + PANICS + NESTED {
            (&mut nested, b.forward_fault(&()))
        } else {
            (&mut overruns, c.spin(&()))
        };
        tally.injected += 1;
        let expected = if i < FAULTS + PANICS + NESTED { CallError::Fault } else { CallError::Overrun };
        if result == Err(expected) {
            tally.errors += 1;
        } else if tally.injected - tally.errors <= 3 {
            debug_println!("containment: injection {i}: expected Err({expected:?}), got {result:?}");
        }
        // The pod serves again, with fresh state: the count starts over. (A
        // call still running when this path's budget runs out is an overrun
        // too, and restarts the pod again: then the next call counts 1.)
        let mut after = c.bump(&());
        if after == Err(CallError::Overrun) {
            after = c.bump(&());
        }
        if after == Ok(Count { value: 1 }) {
            tally.fresh_after += 1;
        }
    }
    debug_println!(
        "containment: faults={} fault_errors={} panics={} panic_errors={} nested={} nested_errors={} overruns={} overrun_errors={} fresh_state={}/{} hangs=0",
        faults.injected,
        faults.errors,
        panics.injected,
        panics.errors,
        nested.injected,
        nested.errors,
        overruns.injected,
        overruns.errors,
        faults.fresh_after + panics.fresh_after + nested.fresh_after + overruns.fresh_after,
        count
    );
    let all = [&faults, &panics, &nested, &overruns];
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
