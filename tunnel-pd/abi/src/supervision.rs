//! The supervision ABI: the table `tunnelkit build` patches into a
//! supervisor's image (its children, their names, call bounds, restart
//! policies and where each bounded pod's callers' scheduling contexts are),
//! and the call-state word a pod publishes for its supervisor.
//!
//! The table is plain little-endian words so that the host tool and the PD
//! share this one definition: [`encode`] runs on the host, [`decode`] and the
//! `word_table_*` readers in the supervisor (`tunnelkit-sys` reads the
//! patched symbol in place).

/// Children a supervisor's table can describe.
pub const MAX_CHILDREN: usize = 16;
/// Bytes of a child's name kept in the table (longer names are cut).
pub const NAME_BYTES: usize = 24;
/// Channel ids of a PD (0..=61).
pub const CHANNELS: usize = crate::MICROKIT_MAX_CHANNELS;
/// First word of a patched table ("tksupv", version 2).
pub const MAGIC: u64 = 0x746b_7375_7076_0002;
/// Offset of a child's restart-policy words in its entry.
const POLICY_WORD: usize = 3 + NAME_BYTES / 8 + CHANNELS.div_ceil(4);
/// Words per child entry: id, bound, call-state address, name, callers, restart policy (2).
const ENTRY_WORDS: usize = POLICY_WORD + 2;
/// Words before the first entry: magic, count, tick period.
/// Words before the first entry (the tick period is word 2).
pub const HEADER_WORDS: usize = 3;
/// Words of the whole table: magic, count, the supervisor's tick period (µs, 0: no tick), entries.
pub const TABLE_WORDS: usize = HEADER_WORDS + MAX_CHILDREN * ENTRY_WORDS;
/// Name of the patched symbol holding the table.
pub const TABLE_SYMBOL: &str = "tunnelkit_supervision";
/// Name of the setvar a pod's runtime publishes its call state through.
pub const CALL_STATE_SYMBOL: &str = "tunnelkit_call_state";

/// Whose scheduling context runs a call that arrives on one channel of a pod.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CallerSc {
    /// Not known: calls on this channel are not bounded.
    #[default]
    Unknown,
    /// An active caller's SC, placed in the supervisor's `<cspace>` root slot.
    Cap(u8),
    /// A passive caller that is itself the child at this table index: the SC
    /// of whatever call that child is serving.
    Child(u8),
}

impl CallerSc {
    fn to_half(self) -> u16 {
        match self {
            CallerSc::Unknown => 0,
            CallerSc::Cap(slot) => u16::from(slot),
            CallerSc::Child(index) => 0x100 | u16::from(index),
        }
    }

    fn from_half(v: u16) -> Self {
        match v {
            0 => CallerSc::Unknown,
            1..=0xff => CallerSc::Cap(v as u8),
            _ => CallerSc::Child((v & 0xff) as u8),
        }
    }
}

/// What a supervisor does when a child faults or overruns (`<?tunnelkit restart=…?>` in the
/// child's `<protection_domain>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Restart it every time (`restart="always"`), each restart `backoff_ms` later than the fault
    /// (doubling with each restart in a row that follows within a second of the last).
    Always {
        /// Delay before the restart, in ms (0: at once).
        backoff_ms: u32,
    },
    /// Restart it at most `max_restarts` times within any `window_ms` (`restart="hold"`, the
    /// default); the next fault within the window *holds* it: restarted without running its
    /// `init`, it answers every call with the held error and does nothing else.
    Hold {
        /// Restarts allowed within the window.
        max_restarts: u16,
        /// The window, in ms (measured in the supervisor's ticks; without a tick: the whole run).
        window_ms: u32,
        /// Delay before each restart, in ms, doubling with each restart within the window.
        backoff_ms: u32,
    },
}

impl Default for RestartPolicy {
    /// Hold after 5 restarts within one second, no backoff.
    fn default() -> Self {
        RestartPolicy::Hold { max_restarts: 5, window_ms: 1000, backoff_ms: 0 }
    }
}

impl RestartPolicy {
    /// The two table words.
    fn to_words(self) -> [u64; 2] {
        match self {
            RestartPolicy::Always { backoff_ms } => [1, u64::from(backoff_ms) << 32],
            RestartPolicy::Hold { max_restarts, window_ms, backoff_ms } => {
                [2 | u64::from(max_restarts) << 16, u64::from(window_ms) | u64::from(backoff_ms) << 32]
            }
        }
    }

    /// From the two table words (an unknown mode reads as the default).
    fn from_words(a: u64, b: u64) -> Self {
        let backoff_ms = (b >> 32) as u32;
        match a & 0xff {
            1 => RestartPolicy::Always { backoff_ms },
            2 => RestartPolicy::Hold { max_restarts: (a >> 16) as u16, window_ms: b as u32, backoff_ms },
            _ => RestartPolicy::default(),
        }
    }

    /// The delay before restart number `k` in a row (1-based), in ms: `backoff_ms · 2^(k−1)`,
    /// at most a minute.
    pub fn backoff(self, k: u32) -> u64 {
        let base = match self {
            RestartPolicy::Always { backoff_ms } | RestartPolicy::Hold { backoff_ms, .. } => u64::from(backoff_ms),
        };
        base.saturating_mul(1u64 << k.saturating_sub(1).min(16)).min(60_000)
    }
}

/// One supervised child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupervisedChild {
    /// Its child id (`<protection_domain id=…>`).
    pub id: u8,
    /// Its name, NUL-padded.
    pub name: [u8; NAME_BYTES],
    /// Most caller CPU time one call may use, in µs (0: unbounded).
    pub bound_us: u64,
    /// Where the supervisor maps the child's call-state page (0: not mapped).
    pub call_state_vaddr: u64,
    /// Per channel of the child: whose SC a call on it runs on.
    pub callers: [CallerSc; CHANNELS],
    /// What to do when it faults or overruns.
    pub policy: RestartPolicy,
}

impl SupervisedChild {
    /// A child with no bound and no callers known.
    pub fn new(id: u8, name: &str) -> Self {
        let mut n = [0; NAME_BYTES];
        let len = name.len().min(NAME_BYTES);
        n[..len].copy_from_slice(&name.as_bytes()[..len]);
        Self { id, name: n, bound_us: 0, call_state_vaddr: 0, callers: [CallerSc::Unknown; CHANNELS], policy: RestartPolicy::default() }
    }

    /// The name as text (up to the first NUL).
    pub fn name(&self) -> &str {
        let len = self.name.iter().position(|&b| b == 0).unwrap_or(NAME_BYTES);
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }
}

/// Encodes `children` (at most [`MAX_CHILDREN`]; more are an error) for a supervisor whose
/// tick (the PD notifying it periodically) has a period of `tick_us` (0: it has none).
pub fn encode(children: &[SupervisedChild], tick_us: u64) -> Result<[u64; TABLE_WORDS], usize> {
    if children.len() > MAX_CHILDREN {
        return Err(children.len());
    }
    let mut w = [0u64; TABLE_WORDS];
    w[0] = MAGIC;
    w[1] = children.len() as u64;
    w[2] = tick_us;
    for (i, c) in children.iter().enumerate() {
        let e = &mut w[HEADER_WORDS + i * ENTRY_WORDS..HEADER_WORDS + (i + 1) * ENTRY_WORDS];
        e[POLICY_WORD..POLICY_WORD + 2].copy_from_slice(&c.policy.to_words());
        e[0] = u64::from(c.id);
        e[1] = c.bound_us;
        e[2] = c.call_state_vaddr;
        for (k, chunk) in c.name.chunks(8).enumerate() {
            e[3 + k] = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        }
        for (ch, caller) in c.callers.iter().enumerate() {
            e[3 + NAME_BYTES / 8 + ch / 4] |= u64::from(caller.to_half()) << (16 * (ch % 4));
        }
    }
    Ok(w)
}

/// Read access to a supervision table: the patched one in a supervisor
/// ([`PatchedTable`], read in place) or decoded children (host tests).
pub trait ChildTable {
    /// Number of children.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Child `i`'s id, bound (µs, 0: none) and call-state page address.
    fn child(&self, i: usize) -> (u8, u64, u64);
    /// Child `i`'s name, NUL-padded.
    fn name(&self, i: usize) -> [u8; NAME_BYTES];
    /// Whose SC runs a call on channel `ch` of child `i`.
    fn caller(&self, i: usize, ch: u8) -> CallerSc;
    /// Child `i`'s restart policy.
    fn policy(&self, i: usize) -> RestartPolicy;
    /// The period of the supervisor's tick in µs (0: it has none).
    fn tick_us(&self) -> u64;
}

impl ChildTable for [SupervisedChild] {
    fn len(&self) -> usize {
        <[SupervisedChild]>::len(self)
    }

    fn child(&self, i: usize) -> (u8, u64, u64) {
        let c = &self[i];
        (c.id, c.bound_us, c.call_state_vaddr)
    }

    fn name(&self, i: usize) -> [u8; NAME_BYTES] {
        self[i].name
    }

    fn caller(&self, i: usize, ch: u8) -> CallerSc {
        self[i].callers.get(usize::from(ch)).copied().unwrap_or_default()
    }

    fn policy(&self, i: usize) -> RestartPolicy {
        self[i].policy
    }

    fn tick_us(&self) -> u64 {
        0
    }
}

/// A table in words (as [`encode`] made it), read word by word.
#[doc(hidden)]
pub fn word_table_child(word: impl Fn(usize) -> u64, i: usize) -> (u8, u64, u64) {
    let e = HEADER_WORDS + i * ENTRY_WORDS;
    ((word(e) & 0xff) as u8, word(e + 1), word(e + 2))
}

#[doc(hidden)]
pub fn word_table_name(word: impl Fn(usize) -> u64, i: usize) -> [u8; NAME_BYTES] {
    let mut n = [0; NAME_BYTES];
    for (k, chunk) in n.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&word(HEADER_WORDS + i * ENTRY_WORDS + 3 + k).to_le_bytes());
    }
    n
}

#[doc(hidden)]
pub fn word_table_caller(word: impl Fn(usize) -> u64, i: usize, ch: u8) -> CallerSc {
    let ch = usize::from(ch);
    if ch >= CHANNELS {
        return CallerSc::Unknown;
    }
    CallerSc::from_half((word(HEADER_WORDS + i * ENTRY_WORDS + 3 + NAME_BYTES / 8 + ch / 4) >> (16 * (ch % 4))) as u16)
}

#[doc(hidden)]
pub fn word_table_policy(word: impl Fn(usize) -> u64, i: usize) -> RestartPolicy {
    let e = HEADER_WORDS + i * ENTRY_WORDS + POLICY_WORD;
    RestartPolicy::from_words(word(e), word(e + 1))
}

/// Decodes a table in words; `None` if it was never patched (or is malformed).
pub fn decode(w: &[u64; TABLE_WORDS]) -> Option<([Option<SupervisedChild>; MAX_CHILDREN], usize)> {
    let count = usize::try_from(w[1]).ok()?;
    if w[0] != MAGIC || count > MAX_CHILDREN {
        return None;
    }
    let word = |k: usize| w[k];
    let mut out = [None; MAX_CHILDREN];
    for (i, slot) in out.iter_mut().enumerate().take(count) {
        let (id, bound_us, call_state_vaddr) = word_table_child(word, i);
        let mut c = SupervisedChild::new(id, "");
        c.bound_us = bound_us;
        c.call_state_vaddr = call_state_vaddr;
        c.name = word_table_name(word, i);
        c.policy = word_table_policy(word, i);
        for (ch, caller) in c.callers.iter_mut().enumerate() {
            *caller = word_table_caller(word, i, ch as u8);
        }
        *slot = Some(c);
    }
    Some((out, count))
}

/// Offset of the nested flag in a call-state page (non-zero while the PD
/// waits on a protected call it made).
pub const NESTED_FLAG_OFFSET: u64 = 8;

/// The call-state word: `seq << 9 | interrupted << 7 | nested << 6 |
/// channel`, where `seq` counts call starts and ends (odd: a call on
/// `channel` is being served), `nested` says the PD waits on a call it made
/// itself (it must not be restarted then: a thread blocked on a reply holds
/// no scheduling context), and `interrupted` is the first restart reason of
/// this call (0: none), so that a second restart before the answer goes out
/// does not change it. Starting and ending a call are two or three
/// instructions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallState(pub u64);

/// The `nested` bit.
const NESTED: u64 = 1 << 6;
/// Shift and mask of the `interrupted` field.
const INTERRUPTED_SHIFT: u32 = 7;
const INTERRUPTED: u64 = 3 << INTERRUPTED_SHIFT;
/// Shift of the sequence number; the bits below it.
const SEQ_SHIFT: u32 = 9;
const LOW: u64 = (1 << SEQ_SHIFT) - 1;

impl CallState {
    /// The sequence number (odd while a call is served).
    pub const fn seq(self) -> u64 {
        self.0 >> SEQ_SHIFT
    }

    /// Whether a call is being served.
    pub const fn in_call(self) -> bool {
        self.seq() & 1 == 1
    }

    /// The channel of the call being served.
    pub const fn channel(self) -> u8 {
        (self.0 & 0x3f) as u8
    }

    /// Whether the PD waits on a call it made while serving one.
    pub const fn nested(self) -> bool {
        self.0 & NESTED != 0
    }

    /// The first restart reason of this call (0: not interrupted).
    pub const fn interrupted(self) -> u64 {
        (self.0 & INTERRUPTED) >> INTERRUPTED_SHIFT
    }

    /// What [`begin`](Self::begin) and [`end`](Self::end) each add to an
    /// idle state outside a restart: from idle `s`, `begin(ch)` is
    /// `s + SEQ_UNIT | ch` and its `end()` is `s + 2 · SEQ_UNIT` (an event
    /// loop can keep the idle state and publish with one add each).
    pub const SEQ_UNIT: u64 = 1 << SEQ_SHIFT;

    /// The idle state `end` leads to, minus two [`SEQ_UNIT`](Self::SEQ_UNIT)s:
    /// the base from which `base + SEQ_UNIT | ch` begins the next call and
    /// `base + 2 · SEQ_UNIT` ends it. For an idle state it is the state itself.
    pub const fn base(self) -> u64 {
        if self.in_call() { ((self.0 | LOW) + 1).wrapping_sub(2 * Self::SEQ_UNIT) } else { self.0 }
    }

    /// The state after a call on `channel` starts (from idle).
    pub const fn begin(self, channel: u8) -> Self {
        Self(((self.0 | LOW) + 1) | (channel as u64 & 0x3f))
    }

    /// The state after the call's answer is decided. Only for a PD in a
    /// call (from idle it would start one): the event loop calls it only
    /// for answers to protected calls.
    pub const fn end(self) -> Self {
        Self((self.0 | LOW) + 1)
    }

    /// The state with the `nested` bit set or cleared.
    pub const fn with_nested(self, nested: bool) -> Self {
        if nested { Self(self.0 | NESTED) } else { Self(self.0 & !NESTED) }
    }

    /// The state after a restart for `reason` (1..=3): the call keeps the
    /// first reason it was interrupted by.
    pub const fn interrupted_by(self, reason: u64) -> Self {
        if self.interrupted() != 0 { self } else { Self(self.0 | (reason & 3) << INTERRUPTED_SHIFT) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_round_trip() {
        let mut a = SupervisedChild::new(2, "pod_c");
        a.bound_us = 1500;
        a.call_state_vaddr = 0x300_0000;
        a.callers[0] = CallerSc::Cap(3);
        a.callers[1] = CallerSc::Child(0);
        a.callers[61] = CallerSc::Cap(63);
        a.policy = RestartPolicy::Always { backoff_ms: 20 };
        let mut b = SupervisedChild::new(7, "a_name_longer_than_twenty_four_bytes");
        b.policy = RestartPolicy::Hold { max_restarts: 3, window_ms: 60_000, backoff_ms: 5 };
        let w = encode(&[a, b], 1000).unwrap();
        let (children, n) = decode(&w).unwrap();
        assert_eq!(n, 2);
        assert_eq!(children[0], Some(a));
        assert_eq!(children[1].unwrap().name(), "a_name_longer_than_twent");
        assert_eq!(children[1].unwrap().policy, b.policy);
        assert_eq!(w[2], 1000, "the tick period");
        assert_eq!(children[2], None);
        assert!(decode(&[0; TABLE_WORDS]).is_none(), "an unpatched table decodes to nothing");
        assert_eq!(encode(&[b; MAX_CHILDREN + 1], 0), Err(MAX_CHILDREN + 1));
    }

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let p = RestartPolicy::Hold { max_restarts: 5, window_ms: 1000, backoff_ms: 10 };
        assert_eq!((1..=4).map(|k| p.backoff(k)).collect::<Vec<_>>(), [10, 20, 40, 80]);
        assert_eq!(p.backoff(40), 60_000);
        assert_eq!(RestartPolicy::default().backoff(3), 0);
    }

    #[test]
    fn call_states_count_starts_and_ends() {
        let idle = CallState::default();
        assert!(!idle.in_call());
        let busy = idle.begin(5);
        assert!(busy.in_call());
        assert_eq!(busy.channel(), 5);
        let done = busy.end();
        assert!(!done.in_call());
        assert_ne!(done, idle, "a finished call is a new state");
        assert_ne!(done.begin(5), busy, "the next call has a new sequence number");
        let hit = busy.interrupted_by(2).interrupted_by(1);
        assert_eq!((hit.interrupted(), hit.seq(), hit.channel()), (2, busy.seq(), 5), "the first reason stays");
        assert_eq!(hit.end().interrupted(), 0, "the next state starts clean");
        assert_eq!(hit.end().begin(1).interrupted(), 0);
        let waiting = busy.with_nested(true);
        assert!(waiting.nested() && waiting.in_call() && !busy.nested());
        assert_eq!((waiting.seq(), waiting.channel()), (busy.seq(), 5));
        assert!(!waiting.end().nested(), "an ended call waits on nothing");
        assert!(idle.end().in_call(), "end() is only for a PD in a call");
    }

    #[test]
    fn the_base_begins_and_ends_calls_with_one_add() {
        let unit = CallState::SEQ_UNIT;
        let mut s = CallState::default();
        for ch in [0u8, 5, 61] {
            let base = s.base();
            assert_eq!(base, s.0, "an idle state is its own base");
            assert_eq!(CallState((base + unit) | u64::from(ch)), s.begin(ch));
            assert_eq!(CallState(base + 2 * unit), s.begin(ch).end());
            s = s.begin(ch).end();
        }
        // A restart during a call: the call's end is base + 2 units.
        let hit = s.begin(7).interrupted_by(1);
        assert_eq!(CallState(hit.base().wrapping_add(2 * unit)), hit.end());
        assert_eq!(CallState((hit.base().wrapping_add(2 * unit) + unit) | 3), hit.end().begin(3));
    }
}
