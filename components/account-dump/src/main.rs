//! The accountant (`account-dump.elf`), which `tunnelkit build --accounting`
//! adds to a system (README "Accounting"), and its per-core meters (the same
//! image). Both map the accounting regions of the PDs whose scheduling
//! contexts they read, read-only (setvars `tunnelkit_account_region_<i>`,
//! all of the size `tunnelkit_account_region_size` names), and hold the
//! scheduling context of PD `i` in `<cspace>` slot `i + 1`, their own in
//! slot 63.
//!
//! Each runs on a sporadic budget and yields after every look, so it wakes
//! once a period. Each look adds what every scheduling context it holds
//! consumed since the last one (`SchedContext_Consumed`, microseconds) to
//! its totals. Each reads only the scheduling contexts of its own core: a
//! reading of a context running on another core makes the kernel stall that
//! core with an inter-processor interrupt, which disturbs what is measured
//! and, in seL4 16's multicore kernel, loses or misplaces the time that
//! core's thread ran since its last kernel entry.
//!
//! A meter (a PD that maps `tunnelkit_account_meter_out`) publishes its
//! totals on that page ([`tunnelkit_sys::account::meter`] layout). The
//! accountant, on core 0, adds every meter's page it maps
//! (`tunnelkit_account_meter_<k>`) to its own totals, keeps the summary, and
//! prints a snapshot of every region and total whenever a PD ends the run
//! (prints its pass line or calls `trace::finish`: `final=1`), and every
//! [`SNAPSHOT_EVERY_S`] seconds otherwise, so a run that ends at a timeout,
//! or passes on a line of its own, still has a recent one:
//!
//! ```text
//! ACCT-START seq=<n> final=<0|1> end=<pd|-> t=<clock> hz=<Hz> calibrated_hz=<Hz> regions=<k> lost=<n> meters=<m> #<crc>
//! ACCT-PD region=<i> name=<pd> starts=<n> busy=<ticks> sc_us=<µs> sc_implausible=<n> #<crc>
//! ACCT-SERVED region=<i> ch=<c> n=<calls> ticks=<ticks> #<crc>
//! ACCT-CALL region=<i> key=<k> ch=<c> n=<calls> ticks=<ticks> #<crc>
//! ACCT-DONE seq=<n> lines=<lines before this one> #<crc>
//! ```
//!
//! `meters=` counts the meter pages that hold a look. Each line ends with
//! the CRC-16 of what precedes ` #`. A snapshot's counters are copied first
//! (all at the clock `t`, open intervals closed there), then printed, so it
//! is consistent however long printing takes.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use tunnelkit_runtime::checked_line::{PaddedName, print as line};
use tunnelkit_runtime::{Handler, SharedMemory, protection_domain, setvar};
use tunnelkit_sys::account::{CHANNELS, KEYS, Region, call_index, header, meter, summary};
use tunnelkit_sys::cap::cspace_root_slot;
use tunnelkit_sys::syscall::{sched_context_consumed, yield_now};
use tunnelkit_sys::trace::{clock, clock_hz};

include!(concat!(env!("OUT_DIR"), "/regions.rs"));

setvar!(
    /// Size of every accounting region (the `setvar_size` of the first map).
    static tunnelkit_account_region_size
);
setvar!(
    /// Address of the summary this PD keeps for the others (mapped read/write here).
    static tunnelkit_account_summary
);
setvar!(
    /// Size of the summary.
    static tunnelkit_account_summary_bytes
);
setvar!(
    /// Size of every meter page (the `setvar_size` of the first one's map).
    static tunnelkit_account_meter_page_bytes
);
setvar!(
    /// Address of the page this PD fills as a meter (read/write; 0 in the accountant).
    static tunnelkit_account_meter_out
);
setvar!(
    /// Size of that page.
    static tunnelkit_account_meter_bytes
);

/// The `<cspace>` slot of the accountant's own scheduling context.
const OWN_SC_SLOT: u8 = 63;
/// Seconds between two snapshots before the end.
const SNAPSHOT_EVERY_S: u64 = 2;
/// Clock ticks between them when the clock's rate is unknown.
const SNAPSHOT_EVERY_TICKS: u64 = 1 << 30;
/// Non-zero counter pairs a snapshot holds (the rest are counted as lost).
const MAX_PAIRS: usize = 2048;

protection_domain!(init);

/// Never constructed: the accountant's loop does not return.
struct Accountant;

impl Handler for Accountant {
    type Error = Infallible;
}

fn init() -> Accountant {
    if let Some(out) = SharedMemory::from_setvars(&tunnelkit_account_meter_out, &tunnelkit_account_meter_bytes) {
        meter_loop(&out)
    }
    let (hz, calibrated_hz) = clock_rate();
    let mut totals = Totals::new();
    let mut snapshot = Snapshot::new();
    let mut seq = 0u64;
    let every = if hz == 0 { SNAPSHOT_EVERY_TICKS } else { SNAPSHOT_EVERY_S * hz };
    let mut next = clock() + every;
    // The regions whose PD ended the run, as seen so far.
    let mut ended = 0u64;
    let mut looks = 0u64;
    loop {
        // Until every meter has said which regions it reads, this PD reads
        // none (what a scheduling context consumed waits in the kernel).
        if let Some(held) = meters_held() {
            totals.unheld = held;
            totals.add_consumed(hz);
        }
        let now = clock();
        looks += 1;
        let all = totals.with_meters();
        publish(looks, now, hz, &all.us);
        let ending = regions().filter(|(_, r)| r.load(header::END) != 0).fold(0u64, |m, (i, _)| m | 1 << i);
        let newly = ending & !ended;
        if newly != 0 {
            // A PD ended the run (again): a final snapshot, after its pass line.
            ended = ending;
            let ender = regions().find(|(i, _)| newly & (1 << i) != 0).map(|(_, r)| PaddedName(r.name()));
            snapshot.take(now, &all);
            snapshot.print(seq, ender, hz, calibrated_hz);
            seq += 1;
        } else if now >= next {
            snapshot.take(now, &all);
            snapshot.print(seq, None, hz, calibrated_hz);
            seq += 1;
            next = clock() + every;
        }
        yield_now();
    }
}

/// The regions the system maps into this PD, with their indices.
fn regions() -> impl Iterator<Item = (usize, Region)> {
    REGIONS.iter().enumerate().filter_map(|(i, v)| Region::from_setvars(v, &tunnelkit_account_region_size).map(|r| (i, r)))
}

/// The meter pages this PD maps.
fn meter_pages() -> impl Iterator<Item = SharedMemory> {
    METERS.iter().filter_map(|v| SharedMemory::from_setvars(v, &tunnelkit_account_meter_page_bytes))
}

/// The union of the regions the meters read, once every meter has published.
fn meters_held() -> Option<u64> {
    meter_pages().try_fold(0u64, |m, page| {
        (page.load_acquire_u64(meter::MAGIC_AT) == Ok(meter::MAGIC)).then(|| m | page.load_acquire_u64(meter::HELD).unwrap_or(0))
    })
}

/// A meter's life: a look at its core's scheduling contexts each period,
/// published on its page.
fn meter_loop(out: &SharedMemory) -> ! {
    let summary = SharedMemory::from_setvars(&tunnelkit_account_summary, &tunnelkit_account_summary_bytes);
    let mut totals = Totals::new();
    let mut looks = 0u64;
    let held = regions().fold(0u64, |m, (i, _)| m | 1 << i);
    let _ = out.store_release_u64(meter::HELD, held);
    loop {
        // The TSC's rate comes from the accountant's measurement (0 until
        // then: readings are not judged).
        let hz = match clock_hz() {
            0 => summary.as_ref().and_then(|s| s.load_acquire_u64(summary::HZ).ok()).unwrap_or(0),
            hz => hz,
        };
        totals.add_consumed(hz);
        looks += 1;
        for (i, _) in regions() {
            let _ = out.store_release_u64(meter::total(i as u64), totals.us[i]);
            let _ = out.store_release_u64(meter::implausible(i as u64), totals.implausible[i]);
        }
        let _ = out.store_release_u64(meter::LOOKS, looks);
        let _ = out.store_release_u64(meter::MAGIC_AT, meter::MAGIC);
        yield_now();
    }
}

/// What each accounted PD's scheduling context consumed, by region index.
struct Totals {
    /// Microseconds, summed over the looks.
    us: [u64; 64],
    /// Readings left out because they exceed the time since the last look.
    implausible: [u64; 64],
    /// The clock at the last look.
    last: u64,
    /// Meter pages that hold a look (in [`Totals::with_meters`]'s result).
    meters: u64,
    /// Regions whose scheduling contexts a meter reads, not this PD (a bit each).
    unheld: u64,
    /// Regions read at least once (a bit each).
    read: u64,
}

impl Totals {
    fn new() -> Totals {
        Totals { us: [0; 64], implausible: [0; 64], last: clock(), meters: 0, unheld: 0, read: 0 }
    }

    /// These totals plus every meter's: each region's scheduling context is
    /// read by exactly one of them, the one on its core.
    fn with_meters(&self) -> Totals {
        let mut all = Totals { meters: 0, ..*self };
        for page in meter_pages() {
            if page.load_acquire_u64(meter::MAGIC_AT) != Ok(meter::MAGIC) {
                continue;
            }
            all.meters += 1;
            for i in 0..meter::SLOTS as usize {
                all.us[i] += page.load_acquire_u64(meter::total(i as u64)).unwrap_or(0);
                all.implausible[i] += page.load_acquire_u64(meter::implausible(i as u64)).unwrap_or(0);
            }
        }
        all
    }

    /// Adds what each scheduling context consumed since the last look. A
    /// reading larger than the time since then (by more than 10 ms, and a
    /// quarter more with a measured clock rate) cannot be CPU time one core
    /// gave: it is left out and counted (seen on multicore QEMU with more
    /// virtual CPUs than host cores, where a virtual CPU the host does not
    /// run for a while charges the gap to the thread it was running). The
    /// first reading of each, which holds everything since the system
    /// started, is not judged.
    fn add_consumed(&mut self, hz: u64) {
        let now = clock();
        let elapsed_us = if hz == 0 { u64::MAX } else { (now.wrapping_sub(self.last) as u128 * 1_000_000 / hz as u128) as u64 };
        let limit_us = match clock_hz() {
            0 => elapsed_us.saturating_add(elapsed_us / 4),
            _ => elapsed_us,
        }
        .saturating_add(10_000);
        self.last = now;
        for (i, _) in regions().filter(|(i, _)| self.unheld & (1 << i) == 0) {
            let first = self.read & (1 << i) == 0;
            match cspace_root_slot(i as u8 + 1).and_then(sched_context_consumed) {
                Some(us) if us > limit_us && !first => self.implausible[i] += 1,
                Some(us) => {
                    self.us[i] += us;
                    self.read |= 1 << i;
                }
                None => {}
            }
        }
    }
}

/// Refreshes the summary every accounted PD may read: each region's name,
/// its scheduling context's total, its busy time and whether it is passive.
fn publish(looks: u64, now: u64, hz: u64, totals: &[u64; 64]) {
    let Some(out) = SharedMemory::from_setvars(&tunnelkit_account_summary, &tunnelkit_account_summary_bytes) else { return };
    let mut count = 0u64;
    for (i, r) in regions().filter(|(_, r)| r.started()) {
        if count >= summary::MAX_ENTRIES {
            break;
        }
        let at = summary::entry(count);
        let name = r.name();
        let _ = out.write(at, &name[..summary::NAME_BYTES]);
        let _ = out.store_release_u64(at + summary::TOTAL_US, totals[i]);
        let busy_us = if hz == 0 { 0 } else { (r.busy(now) as u128 * 1_000_000 / hz as u128) as u64 };
        let _ = out.store_release_u64(at + summary::BUSY_US, busy_us);
        let _ = out.store_release_u64(at + summary::PASSIVE, r.load(header::PASSIVE));
        count += 1;
    }
    let _ = out.store_release_u64(summary::COUNT, count);
    let _ = out.store_release_u64(summary::HZ, hz);
    let _ = out.store_release_u64(summary::SEQ, looks);
    let _ = out.store_release_u64(summary::MAGIC_AT, summary::MAGIC);
}

/// The clock's rate and, where it had to be measured (the TSC), the
/// measurement; (0, 0) if unknown.
fn clock_rate() -> (u64, u64) {
    match clock_hz() {
        0 => {
            let calibrated = calibrate();
            (calibrated, calibrated)
        }
        hz => (hz, 0),
    }
}

/// The clock's rate measured against the kernel's account of this PD's own
/// scheduling context. Each measurement starts on a fresh budget, spins,
/// then yields (which commits the time consumed to the scheduling context:
/// until then the kernel holds it aside) and reads the microseconds
/// consumed. A measurement also holds the kernel's work around the yield,
/// which does not depend on the spin, so the rate is the slope between
/// spins of two lengths (about 100 and 400 µs, inside this PD's 1000 µs
/// budget), summed over several pairs against the noise of a host-timed
/// clock. 0 if no spin length fits the budget.
fn calibrate() -> u64 {
    let Some(own) = cspace_root_slot(OWN_SC_SLOT) else { return 0 };
    let measure = |spin: u64| -> Option<(u64, u64)> {
        yield_now();
        let t0 = clock();
        let _ = sched_context_consumed(own);
        while clock().wrapping_sub(t0) < spin {}
        let ticks = clock().wrapping_sub(t0);
        yield_now();
        sched_context_consumed(own).map(|us| (ticks, us))
    };
    // A spin of about 100 µs.
    let mut spin = 1u64 << 12;
    for _ in 0..16 {
        match measure(spin) {
            Some((_, us)) if us < 100 => spin *= 2,
            Some(_) => break,
            None => return 0,
        }
    }
    let (mut dticks, mut dus) = (0u64, 0u64);
    for _ in 0..6 {
        let (Some((t1, u1)), Some((t4, u4))) = (measure(spin), measure(4 * spin)) else { return 0 };
        if u4 > 900 {
            return 0;
        }
        dticks += t4.saturating_sub(t1);
        dus += u4.saturating_sub(u1);
    }
    (dticks * 1_000_000).checked_div(dus).unwrap_or(0)
}

/// One PD's part of a snapshot.
#[derive(Clone, Copy)]
struct PdRow {
    region: usize,
    name: Name,
    starts: u64,
    busy: u64,
    sc_us: u64,
    implausible: u64,
}

/// One non-zero counter pair: served (`key` = `u64::MAX`) or a call.
#[derive(Clone, Copy)]
struct Pair {
    region: u8,
    key: u64,
    ch: u64,
    n: u64,
    ticks: u64,
}

/// Every counter at one moment.
struct Snapshot {
    t: u64,
    meters: u64,
    pds: [Option<PdRow>; 62],
    pairs: [Pair; MAX_PAIRS],
    len: usize,
    lost: usize,
}

impl Snapshot {
    fn new() -> Self {
        Self { t: 0, meters: 0, pds: [None; 62], pairs: [Pair { region: 0, key: 0, ch: 0, n: 0, ticks: 0 }; MAX_PAIRS], len: 0, lost: 0 }
    }

    fn push(&mut self, p: Pair) {
        if self.len < MAX_PAIRS {
            self.pairs[self.len] = p;
            self.len += 1;
        } else {
            self.lost += 1;
        }
    }

    /// Copies every region's counters, open intervals closed at `now`.
    fn take(&mut self, now: u64, totals: &Totals) {
        self.t = now;
        self.meters = totals.meters;
        self.len = 0;
        self.lost = 0;
        self.pds = [None; 62];
        for (i, r) in regions() {
            if !r.started() {
                continue;
            }
            self.pds[i] = Some(PdRow {
                region: i,
                name: PaddedName(r.name()),
                starts: r.load(header::STARTS),
                busy: r.busy(now),
                sc_us: totals.us[i],
                implausible: totals.implausible[i],
            });
            for ch in 0..CHANNELS {
                let (ticks, n) = r.served(ch, now);
                if n != 0 {
                    self.push(Pair { region: i as u8, key: u64::MAX, ch, n, ticks });
                }
            }
            for key in 0..KEYS {
                for ch in 0..CHANNELS {
                    let (ticks, n) = r.call(call_index(key, ch), now);
                    if n != 0 {
                        self.push(Pair { region: i as u8, key, ch, n, ticks });
                    }
                }
            }
        }
    }

    fn print(&self, seq: u64, end: Option<Name>, hz: u64, calibrated_hz: u64) {
        let mut lines = 0u64;
        let mut out = |args: core::fmt::Arguments<'_>| {
            line(args);
            lines += 1;
        };
        let regions = self.pds.iter().flatten().count();
        match end {
            Some(name) => out(format_args!(
                "ACCT-START seq={seq} final=1 end={name} t={} hz={hz} calibrated_hz={calibrated_hz} regions={regions} lost={} meters={}",
                self.t, self.lost, self.meters
            )),
            None => out(format_args!(
                "ACCT-START seq={seq} final=0 end=- t={} hz={hz} calibrated_hz={calibrated_hz} regions={regions} lost={} meters={}",
                self.t, self.lost, self.meters
            )),
        }
        for p in self.pds.iter().flatten() {
            out(format_args!(
                "ACCT-PD region={} name={} starts={} busy={} sc_us={} sc_implausible={}",
                p.region, p.name, p.starts, p.busy, p.sc_us, p.implausible
            ));
        }
        for p in &self.pairs[..self.len] {
            if p.key == u64::MAX {
                out(format_args!("ACCT-SERVED region={} ch={} n={} ticks={}", p.region, p.ch, p.n, p.ticks));
            } else {
                out(format_args!("ACCT-CALL region={} key={} ch={} n={} ticks={}", p.region, p.key, p.ch, p.n, p.ticks));
            }
        }
        line(format_args!("ACCT-DONE seq={seq} lines={lines}"));
    }
}

/// A PD name from a region header (`?` before its PD started).
type Name = PaddedName<{ header::NAME_BYTES }>;
