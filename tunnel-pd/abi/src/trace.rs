//! The trace format (`tunnelkit run --trace`, docs/trace.md): the record, the
//! trace region's layout and the dump line, shared by the recorder in
//! `tunnelkit-sys`, the dumper PD and the host tool.

use core::fmt;

/// First header word of an initialised trace region: `"tktrace1"`.
pub const MAGIC: u64 = u64::from_le_bytes(*b"tktrace1");

/// Byte offsets of the header words of a trace region.
pub mod header {
    /// [`super::MAGIC`] once the PD has initialised the region.
    pub const MAGIC: u64 = 0;
    /// Events recorded so far (held, dropped and all), published with
    /// release ordering after the record is written.
    pub const COUNT: u64 = 8;
    /// Events not recorded because the region was frozen.
    pub const LATE: u64 = 16;
    /// Non-zero once the dumper froze the region (it writes this word).
    pub const FROZEN: u64 = 24;
    /// The clock when this PD ended the run (0: it did not).
    pub const END: u64 = 32;
    /// Records kept from the start of the run ([`super::Layout::head`]).
    pub const HEAD: u64 = 40;
    /// Ring slots after them ([`super::Layout::ring`], a power of two).
    pub const RING: u64 = 48;
    /// The clock's frequency in Hz (0: unknown).
    pub const HZ: u64 = 56;
    /// The PD's name, NUL-padded.
    pub const NAME: u64 = 64;
    /// Bytes of the name.
    pub const NAME_BYTES: usize = 64;
    /// Bytes of the header; the records follow.
    pub const SIZE: u64 = 128;
}

/// Bytes of one record: the clock, a word of kind / channel / depth / `a`,
/// and `b`.
pub const RECORD_BYTES: u64 = 24;

/// What happened. The fields a kind uses are listed with it
/// (`ch`, `depth`, `a`, `b` of [`Record`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// The PD's entry ran: `a` = start reason (0 boot, 1 after a fault,
    /// 2 after an overrun).
    Init = 1,
    /// The event loop started again after a supervisor restart: `a` =
    /// reason; `depth` = 1 if a call was being served (it is answered next),
    /// `ch` = that call's channel.
    Restart = 2,
    /// A protected call is about to be made (caller side): `ch`, `depth` =
    /// 1 if this PD is serving a call itself (a nested call), `b` = the
    /// operation (message label).
    Call = 3,
    /// The call returned (caller side): `ch`, `depth`, `b` = the reply's label.
    Reply = 4,
    /// A protected call arrived (callee side): `ch` = the channel at the
    /// callee, `b` = the operation.
    Serve = 5,
    /// Its answer is about to be sent (callee side): `ch`, `b` = the label.
    Answer = 6,
    /// A notification is sent: `ch`.
    Notify = 7,
    /// Notifications arrived: `b` = the channel set.
    Notified = 8,
    /// A child's fault arrived (its parent, the supervisor): `ch` = the
    /// child id, `b` = seL4's fault label.
    ChildFault = 9,
    /// The watchdog decided that a child's call overran its bound: `ch` =
    /// child id, `a` = CPU µs used, `b` = the bound in µs.
    ChildOverrun = 10,
    /// A child is restarted: `ch` = child id, `a` = the reason
    /// (`u32::MAX`: none given, `Child::restart` sets the entry point only).
    ChildRestart = 11,
    /// This PD ended the run (its pass line, or `trace::finish`).
    End = 12,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 12] = [
        Kind::Init,
        Kind::Restart,
        Kind::Call,
        Kind::Reply,
        Kind::Serve,
        Kind::Answer,
        Kind::Notify,
        Kind::Notified,
        Kind::ChildFault,
        Kind::ChildOverrun,
        Kind::ChildRestart,
        Kind::End,
    ];

    /// The kind with this number.
    pub fn from_u8(v: u8) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| *k as u8 == v)
    }

    /// Its name in dump lines and trace files.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Init => "init",
            Kind::Restart => "restart",
            Kind::Call => "call",
            Kind::Reply => "reply",
            Kind::Serve => "serve",
            Kind::Answer => "answer",
            Kind::Notify => "notify",
            Kind::Notified => "notified",
            Kind::ChildFault => "child_fault",
            Kind::ChildOverrun => "child_overrun",
            Kind::ChildRestart => "child_restart",
            Kind::End => "end",
        }
    }
}

/// One event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// The clock ([`clock`]).
    pub t: u64,
    /// What happened.
    pub kind: Kind,
    /// Channel (or child) id.
    pub ch: u8,
    /// Serving depth or flag (see [`Kind`]).
    pub depth: u8,
    /// Small detail (see [`Kind`]).
    pub a: u32,
    /// Word detail (see [`Kind`]).
    pub b: u64,
}

impl Record {
    /// The record as the three words stored in a region.
    pub const fn encode(&self) -> [u64; 3] {
        [self.t, self.kind as u64 | (self.ch as u64) << 8 | (self.depth as u64) << 16 | (self.a as u64) << 32, self.b]
    }

    /// The record stored as `w`; `None` for an unknown kind (a slot never written).
    pub fn decode(w: [u64; 3]) -> Option<Record> {
        let kind = Kind::from_u8(w[1] as u8)?;
        Some(Record { t: w[0], kind, ch: (w[1] >> 8) as u8, depth: (w[1] >> 16) as u8, a: (w[1] >> 32) as u32, b: w[2] })
    }

    /// Writes the record's `key=value` fields (no leading space).
    pub fn write_fields(&self, f: &mut impl fmt::Write) -> fmt::Result {
        let (ch, depth, a, b) = (self.ch, self.depth, self.a, self.b);
        match self.kind {
            Kind::Init => write!(f, "reason={a}"),
            Kind::Restart => write!(f, "reason={a} in_call={depth} ch={ch}"),
            Kind::Call => write!(f, "ch={ch} depth={depth} op={b}"),
            Kind::Reply => write!(f, "ch={ch} depth={depth} label={b}"),
            Kind::Serve => write!(f, "ch={ch} op={b}"),
            Kind::Answer => write!(f, "ch={ch} label={b}"),
            Kind::Notify => write!(f, "ch={ch}"),
            Kind::Notified => write!(f, "set={b:#x}"),
            Kind::ChildFault => write!(f, "child={ch} label={b}"),
            Kind::ChildOverrun => write!(f, "child={ch} used_us={a} bound_us={b}"),
            Kind::ChildRestart => write!(f, "child={ch} reason={a}"),
            Kind::End => Ok(()),
        }
    }

    /// Writes the dump line of this record (without its check suffix):
    /// `TRACE <pd> <seq> <t> <event> k=v …`.
    pub fn write_line(&self, f: &mut impl fmt::Write, pd: &str, seq: u64) -> fmt::Result {
        write!(f, "TRACE {pd} {seq} {} {}", self.t, self.kind.name())?;
        if self.kind != Kind::End {
            f.write_char(' ')?;
            self.write_fields(f)?;
        }
        Ok(())
    }
}

/// How a region of a given size is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Records kept from the start.
    pub head: u64,
    /// Ring slots for the latest records (a power of two).
    pub ring: u64,
}

impl Layout {
    /// The layout of a region of `size` bytes: half its records (rounded
    /// down to a power of two) form the ring, the rest the head. `None` if
    /// it holds fewer than four records.
    pub const fn for_size(size: u64) -> Option<Layout> {
        if size < header::SIZE {
            return None;
        }
        let records = (size - header::SIZE) / RECORD_BYTES;
        if records < 4 {
            return None;
        }
        let half = records / 2;
        let ring = 1u64 << (63 - half.leading_zeros());
        Some(Layout { head: records - ring, ring })
    }

    /// The slot of record `seq`.
    pub const fn slot(&self, seq: u64) -> u64 {
        if seq < self.head { seq } else { self.head + ((seq - self.head) & (self.ring - 1)) }
    }

    /// Byte offset of record `seq` in the region.
    pub const fn offset(&self, seq: u64) -> u64 {
        header::SIZE + self.slot(seq) * RECORD_BYTES
    }

    /// The records a region holds after `count` were written: the head
    /// `0..h` and the ring part `r0..count` (empty if none). The oldest ring
    /// slot is left out: it is the next one written, so a writer still busy
    /// with a record could be changing it.
    pub const fn held(&self, count: u64) -> (u64, u64) {
        let h = if count < self.head { count } else { self.head };
        let oldest = count.saturating_sub(self.ring - 1);
        let r0 = if oldest > self.head { oldest } else { self.head };
        (h, if r0 > count { count } else { r0 })
    }

    /// Records lost after `count` were written (overwritten or skipped).
    pub const fn dropped(&self, count: u64) -> u64 {
        let (h, r0) = self.held(count);
        r0 - h
    }
}

/// CRC-16/CCITT-FALSE of `bytes`: the check a dump line carries (` #xxxx`),
/// so that a line another PD's output broke into is recognised.
pub const fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    let mut i = 0;
    while i < bytes.len() {
        crc ^= (bytes[i] as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
            bit += 1;
        }
        i += 1;
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::String;

    #[test]
    fn records_round_trip_through_words() {
        for kind in Kind::ALL {
            let r = Record { t: 123_456_789, kind, ch: 61, depth: 1, a: u32::MAX, b: u64::MAX - 5 };
            assert_eq!(Record::decode(r.encode()), Some(r));
            assert_eq!(Kind::from_u8(kind as u8), Some(kind));
        }
        assert_eq!(Record::decode([0; 3]), None, "a slot never written holds no record");
    }

    #[test]
    fn dump_lines_name_every_field() {
        let mut s = String::new();
        let r = Record { t: 42, kind: Kind::Call, ch: 3, depth: 1, a: 0, b: 2 };
        r.write_line(&mut s, "crypt", 7).unwrap();
        assert_eq!(s, "TRACE crypt 7 42 call ch=3 depth=1 op=2");
        s.clear();
        Record { t: 9, kind: Kind::ChildOverrun, ch: 2, depth: 0, a: 3120, b: 3000 }.write_line(&mut s, "supervisor", 0).unwrap();
        assert_eq!(s, "TRACE supervisor 0 9 child_overrun child=2 used_us=3120 bound_us=3000");
        s.clear();
        Record { t: 1, kind: Kind::End, ch: 0, depth: 0, a: 0, b: 0 }.write_line(&mut s, "report", 3).unwrap();
        assert_eq!(s, "TRACE report 3 1 end");
        s.clear();
        Record { t: 1, kind: Kind::Notified, ch: 0, depth: 0, a: 0, b: 3 }.write_line(&mut s, "report", 4).unwrap();
        assert_eq!(s, "TRACE report 4 1 notified set=0x3");
    }

    #[test]
    fn the_layout_keeps_the_start_and_the_latest() {
        let l = Layout::for_size(0xD000).unwrap();
        assert_eq!((l.head, l.ring), (2213 - 1024, 1024));
        assert!(l.head + l.ring <= (0xD000 - header::SIZE) / RECORD_BYTES);
        assert_eq!(Layout::for_size(header::SIZE + 3 * RECORD_BYTES), None);
        let l = Layout { head: 4, ring: 4 };
        assert_eq!((l.slot(0), l.slot(3), l.slot(4), l.slot(7), l.slot(8), l.slot(13)), (0, 3, 4, 7, 4, 5));
        assert_eq!(l.held(2), (2, 2), "nothing in the ring yet");
        assert_eq!(l.held(7), (4, 4), "4..7: three ring slots, the fourth is the next one written");
        assert_eq!(l.dropped(7), 0);
        assert_eq!(l.held(8), (4, 5), "seq 4 is in the slot written next: left out");
        assert_eq!(l.dropped(8), 1);
        assert_eq!(l.held(100), (4, 97));
        assert_eq!(l.dropped(100), 93);
    }

    #[test]
    fn crc16_is_ccitt_false() {
        assert_eq!(crc16(b"123456789"), 0x29B1);
        assert_eq!(crc16(b""), 0xFFFF);
    }
}
