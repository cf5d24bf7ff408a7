//! The trace dumper (`trace-dump.elf`), which `tunnelkit build --trace` adds
//! to a system: it maps every traced PD's trace region (setvars
//! `tunnelkit_trace_region_<i>`, all of the size `tunnelkit_trace_region_size`
//! names) and, once a PD ended the run (the runtime sets that PD's region's
//! `end` word and notifies this PD when it prints a pass line), prints them
//! all through the console, one record per line (docs/trace.md):
//!
//! ```text
//! TRACE-START regions=<k> end=<pd> end_t=<t> hz=<clock Hz> #<crc>
//! TRACE-BEGIN <pd> region=<i> n=<lines> dropped=<d> count=<recorded> #<crc>
//! TRACE <pd> <seq> <t> <event> k=v … #<crc>
//! TRACE-END <pd> region=<i> n=<lines> late=<l> #<crc>
//! TRACE-DONE regions=<k> #<crc>
//! ```
//!
//! Each line ends with the CRC-16 of what precedes ` #`, so a line another
//! PD's output broke into is recognised. Until the end it waits for a
//! notification: every traced PD has a channel to it, and the runtime of the
//! PD that ends the run notifies it. It freezes every region first (later
//! events are counted as late, not recorded), then prints. It has a
//! round-robin scheduling context at a priority above every traced PD, so
//! on its core they do not run while it prints. A record a PD was writing
//! when it was frozen is never read: it is not counted yet, and the ring
//! slot it goes to is the one the dumper leaves out.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use tunnelkit_runtime::checked_line::{CheckedLine, PaddedName, print as line};
use tunnelkit_runtime::{ChannelSet, Handler, protection_domain, setvar};
use tunnelkit_sys::trace::Region;

include!(concat!(env!("OUT_DIR"), "/regions.rs"));

setvar!(
    /// Size of every trace region (the `setvar_size` of the first map).
    static tunnelkit_trace_region_size
);

protection_domain!(init);

/// Whether the dump was printed.
struct Dumper {
    done: bool,
}

fn init() -> Dumper {
    Dumper { done: false }
}

impl Handler for Dumper {
    type Error = Infallible;

    /// A PD ended the run (or another notification came): dump once.
    fn notified(&mut self, _: ChannelSet) -> Result<(), Infallible> {
        if !self.done
            && let Some((end, t)) = regions().find_map(|(_, r)| (r.end() != 0).then(|| (r, r.end())))
        {
            dump(&end, t);
            self.done = true;
        }
        Ok(())
    }
}

/// The regions the system maps into this PD, with their indices.
fn regions() -> impl Iterator<Item = (usize, Region)> {
    REGIONS.iter().enumerate().filter_map(|(i, v)| Region::from_setvars(v, &tunnelkit_trace_region_size).map(|r| (i, r)))
}

fn dump(ender: &Region, end_t: u64) {
    for (_, r) in regions() {
        r.freeze();
    }
    let names = |r: &Region| PaddedName(r.name());
    line(format_args!("TRACE-START regions={} end={} end_t={end_t} hz={}", regions().count(), names(ender), ender.hz()));
    for (i, r) in regions() {
        let name = names(&r);
        let Some(layout) = r.layout() else {
            // A PD that never started (or has no trace support).
            line(format_args!("TRACE-BEGIN {name} region={i} n=0 dropped=0 count=0 started=0"));
            line(format_args!("TRACE-END {name} region={i} n=0 late=0"));
            continue;
        };
        let count = r.count();
        let (head, ring_from) = layout.held(count);
        let n = head + (count - ring_from);
        line(format_args!("TRACE-BEGIN {name} region={i} n={n} dropped={} count={count}", layout.dropped(count)));
        for seq in (0..head).chain(ring_from..count) {
            match r.record(&layout, seq) {
                Some(rec) => {
                    let mut text = CheckedLine::new();
                    let _ = rec.write_line(&mut text, name.as_str(), seq);
                    text.emit();
                }
                None => line(format_args!("TRACE {name} {seq} 0 unreadable")),
            }
        }
        line(format_args!("TRACE-END {name} region={i} n={n} late={}", r.late()));
    }
    line(format_args!("TRACE-DONE regions={}", regions().count()));
}
