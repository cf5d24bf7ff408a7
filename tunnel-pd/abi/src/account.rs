//! The accounting format (`tunnelkit run --accounting`, README "Accounting"):
//! the layout of a PD's accounting region and the dump lines, shared by the
//! counters in `tunnelkit-sys`, the accountant PD and the host tool.
//!
//! A PD built for accounting keeps, in its region, clock-tick counters that
//! never wrap and never lose an event:
//! - how long it ran between waking and blocking (*busy*),
//! - per channel it serves: calls and the time from their arrival to their answer,
//! - per (context, channel it calls): calls and the time from the call to its
//!   reply, where the context is the channel of the call this PD was serving
//!   when it made the call (key `c + 1`), or its own code (key 0).
//!
//! Its open intervals (busy since, serving since, calling since) are in the
//! header, so a reader can close them at the moment it reads.

/// First header word of an initialised accounting region: `"tkacct01"`.
pub const MAGIC: u64 = u64::from_le_bytes(*b"tkacct01");

/// Channel ids a PD may use, so the tables' dimensions.
pub const CHANNELS: u64 = crate::MICROKIT_MAX_CHANNELS as u64;
/// Contexts a call can be made in: its own code (0) or serving channel `c` (`c + 1`).
pub const KEYS: u64 = CHANNELS + 1;
/// Bytes of one counter pair: ticks, then count.
pub const PAIR_BYTES: u64 = 16;

/// Byte offsets of the header words of an accounting region.
pub mod header {
    /// [`super::MAGIC`] once the PD has initialised the region.
    pub const MAGIC: u64 = 0;
    /// The clock's frequency in Hz (0: unknown to the PD; the TSC).
    pub const HZ: u64 = 8;
    /// Busy ticks of intervals that ended.
    pub const BUSY: u64 = 16;
    /// The clock when the current busy interval began (0: blocked).
    pub const BUSY_SINCE: u64 = 24;
    /// The channel of the call being served, plus one (0: none).
    pub const SERVING: u64 = 32;
    /// The clock when that call arrived.
    pub const SERVING_SINCE: u64 = 40;
    /// The index of the call-table pair of the call in flight, plus one (0: none).
    pub const CALLING: u64 = 48;
    /// The clock when that call was made.
    pub const CALLING_SINCE: u64 = 56;
    /// Starts of the PD (1 at boot, one more per restart).
    pub const STARTS: u64 = 64;
    /// The clock when this PD ended the run (its pass line; 0: it did not).
    pub const END: u64 = 72;
    /// The PD's name, NUL-padded.
    pub const NAME: u64 = 80;
    /// Bytes of the name.
    pub const NAME_BYTES: usize = 48;
    /// 1 if the PD is passive (a pod), 0 if it has its own scheduling context (a path).
    pub const PASSIVE: u64 = 128;
    /// Bytes of the header.
    pub const SIZE: u64 = 192;
}

/// The summary the accountant keeps for every accounted PD to read (mapped
/// read-only into each, `setvar_vaddr="tunnelkit_account_summary_vaddr"`):
/// every PD's name, its scheduling context's total and its clock's busy
/// time, refreshed at each of the accountant's looks.
pub mod summary {
    /// First word once the accountant wrote it: `"tksumm01"`.
    pub const MAGIC: u64 = u64::from_le_bytes(*b"tksumm01");
    /// Byte offset of the magic word.
    pub const MAGIC_AT: u64 = 0;
    /// Looks so far (changes at every refresh).
    pub const SEQ: u64 = 8;
    /// Entries that follow.
    pub const COUNT: u64 = 16;
    /// The clock's rate (Hz) the accountant uses, once known (0 before).
    pub const HZ: u64 = 24;
    /// Where entry 0 starts.
    pub const ENTRIES: u64 = 64;
    /// Bytes of an entry: name (40), total µs, busy µs, passive.
    pub const ENTRY_BYTES: u64 = 64;
    /// Bytes of an entry's name, NUL-padded (longer names are cut).
    pub const NAME_BYTES: usize = 40;
    /// Offset in an entry of the total its scheduling context consumed (µs).
    pub const TOTAL_US: u64 = 40;
    /// Offset in an entry of its clock's busy time (µs).
    pub const BUSY_US: u64 = 48;
    /// Offset in an entry of 1 for a passive PD.
    pub const PASSIVE: u64 = 56;
    /// Bytes of the summary region.
    pub const BYTES: u64 = 0x1000;
    /// Entries that fit.
    pub const MAX_ENTRIES: u64 = (BYTES - ENTRIES) / ENTRY_BYTES;
    // Every PD of a system (at most 62 besides the accountant) fits.
    const _: () = assert!(MAX_ENTRIES >= super::CHANNELS);

    /// Offset of entry `i`.
    pub const fn entry(i: u64) -> u64 {
        ENTRIES + i * ENTRY_BYTES
    }
}

/// The page a per-core meter fills for the accountant: what the scheduling
/// contexts of the PDs on its core consumed, summed over its looks. A meter
/// reads only scheduling contexts of its own core, so no reading makes the
/// kernel stall another core (README "Accounting").
pub mod meter {
    /// First word once the meter wrote it: `"tkmetr01"`.
    pub const MAGIC: u64 = u64::from_le_bytes(*b"tkmetr01");
    /// Byte offset of the magic word.
    pub const MAGIC_AT: u64 = 0;
    /// The meter's looks so far.
    pub const LOOKS: u64 = 8;
    /// The regions whose scheduling contexts it reads, a bit each (written
    /// before the magic word).
    pub const HELD: u64 = 16;
    /// Where the totals start: one word (µs) per region index.
    pub const TOTALS: u64 = 64;
    /// Where the counts of left-out readings start: one word per region index.
    pub const IMPLAUSIBLE: u64 = TOTALS + 8 * SLOTS;
    /// Region indices a page has room for.
    pub const SLOTS: u64 = 64;
    /// Bytes of a meter's page.
    pub const BYTES: u64 = 0x1000;
    const _: () = assert!(IMPLAUSIBLE + 8 * SLOTS <= BYTES);

    /// Offset of region `i`'s total.
    pub const fn total(i: u64) -> u64 {
        TOTALS + 8 * i
    }

    /// Offset of region `i`'s count of left-out readings.
    pub const fn implausible(i: u64) -> u64 {
        IMPLAUSIBLE + 8 * i
    }
}

/// Where the served table starts: [`CHANNELS`] pairs, by channel.
pub const SERVED: u64 = header::SIZE;
/// Where the call table starts: [`KEYS`] × [`CHANNELS`] pairs, by key then channel.
pub const CALLS: u64 = SERVED + CHANNELS * PAIR_BYTES;
/// Bytes an accounting region needs (within sixteen pages).
pub const REGION_BYTES: u64 = CALLS + KEYS * CHANNELS * PAIR_BYTES;
const _: () = assert!(REGION_BYTES <= 0x10000);

/// Offset of the served pair of channel `ch`.
pub const fn served(ch: u64) -> u64 {
    SERVED + ch * PAIR_BYTES
}

/// Index of the call pair of channel `ch` made in context `key`.
pub const fn call_index(key: u64, ch: u64) -> u64 {
    key * CHANNELS + ch
}

/// Offset of call pair `index` ([`call_index`]).
pub const fn call(index: u64) -> u64 {
    CALLS + index * PAIR_BYTES
}

/// The context a call is made in, from the channel being served.
pub const fn key(serving: Option<u8>) -> u64 {
    match serving {
        Some(c) => c as u64 + 1,
        None => 0,
    }
}

/// Prefix of every accounting dump line.
pub const LINE_PREFIX: &str = "ACCT";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_follow_the_header_and_fit_in_sixteen_pages() {
        assert_eq!(served(0), header::SIZE);
        assert_eq!(served(CHANNELS), CALLS);
        assert_eq!(call(call_index(KEYS - 1, CHANNELS - 1)) + PAIR_BYTES, REGION_BYTES);
        assert!(header::NAME + header::NAME_BYTES as u64 <= header::PASSIVE);
        assert_eq!((key(None), key(Some(0)), key(Some(61))), (0, 1, 62));
    }
}
