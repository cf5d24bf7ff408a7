//! The supervisor's library (pure logic, host-tested): the watchdog's
//! accounting of bounded pods' calls ([`watchdog`]), and the restart policy
//! bookkeeping ([`Restarts`]): per child, when it was restarted, and what the
//! next failure means — restart now, restart after a backoff, or hold
//! (`RestartPolicy` from the child's `<?tunnelkit restart=…?>`). Time is
//! counted in the supervisor's ticks.

#![no_std]
#![forbid(unsafe_code)]

pub mod watchdog;

use tunnelkit_runtime::supervision::{MAX_CHILDREN, RestartPolicy};

/// Restart times kept per child (the most a `hold` policy may allow, which
/// `tunnelkit check` enforces).
pub const HISTORY: usize = 16;

/// What to do about a child that failed (faulted or overran).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Restart it now.
    Restart,
    /// Restart it at tick `at` (its backoff: `delay_ms`).
    RestartAt {
        /// The tick at which to restart it.
        at: u64,
        /// The backoff in ms.
        delay_ms: u64,
    },
    /// Hold it: its policy allows no more restarts now (`recent` within the window).
    Hold {
        /// Restarts within the window.
        recent: u32,
    },
    /// It is held already: leave it stopped.
    AlreadyHeld,
}

/// One child's restart record.
#[derive(Clone, Copy, Debug)]
struct Record {
    /// Restart times (ticks, modulo 2^32: 49 days of 1 ms ticks), a ring of the last [`HISTORY`].
    times: [u32; HISTORY],
    /// Restarts so far.
    count: u64,
    held: bool,
    /// A restart due at this tick, with its start reason.
    pending: Option<(u64, u64)>,
}

/// The restart bookkeeping of every child of a supervisor.
pub struct Restarts {
    records: [Record; MAX_CHILDREN],
    /// The tick's period in µs (0: no tick; windows then span the whole run and there is no backoff).
    tick_us: u64,
    /// Ticks so far.
    now: u64,
}

impl Restarts {
    /// Bookkeeping for a supervisor whose tick has period `tick_us` (0: none).
    pub fn new(tick_us: u64) -> Self {
        let empty = Record { times: [0; HISTORY], count: 0, held: false, pending: None };
        Restarts { records: [empty; MAX_CHILDREN], tick_us, now: 0 }
    }

    /// Ticks in `ms` milliseconds, rounded up (`u64::MAX` without a tick: for ever).
    fn ticks(&self, ms: u64) -> u64 {
        if self.tick_us == 0 { u64::MAX } else { (ms * 1000).div_ceil(self.tick_us) }
    }

    /// Restarts of child `i` within the last `window` ticks.
    fn recent(&self, i: usize, window: u64) -> u32 {
        let r = &self.records[i];
        let kept = r.count.min(HISTORY as u64) as usize;
        (0..kept).filter(|&k| u64::from((self.now as u32).wrapping_sub(r.times[k])) < window).count() as u32
    }

    /// Child `i` failed; what to do under `policy`. A restart (now or
    /// later) is recorded; a hold marks it held.
    pub fn failed(&mut self, i: usize, policy: RestartPolicy) -> Decision {
        if self.records[i].held {
            return Decision::AlreadyHeld;
        }
        let (streak, limit) = match policy {
            RestartPolicy::Always { .. } => (self.recent(i, self.ticks(1000)), None),
            RestartPolicy::Hold { max_restarts, window_ms, .. } => (self.recent(i, self.ticks(u64::from(window_ms))), Some(max_restarts)),
        };
        if let Some(max) = limit
            && streak >= u32::from(max)
        {
            let r = &mut self.records[i];
            r.held = true;
            r.pending = None;
            r.count += 1;
            return Decision::Hold { recent: streak };
        }
        let r = &mut self.records[i];
        r.times[(r.count % HISTORY as u64) as usize] = self.now as u32;
        r.count += 1;
        let delay_ms = policy.backoff(streak + 1);
        if delay_ms == 0 || self.tick_us == 0 {
            return Decision::Restart;
        }
        let at = self.now + self.ticks(delay_ms);
        Decision::RestartAt { at, delay_ms }
    }

    /// Remembers a restart of child `i` with start reason `reason` due at tick `at`.
    pub fn defer(&mut self, i: usize, at: u64, reason: u64) {
        self.records[i].pending = Some((at, reason));
    }

    /// One tick passed; calls `restart(i, reason)` for every restart now due.
    pub fn tick(&mut self, mut restart: impl FnMut(usize, u64)) {
        self.now += 1;
        for (i, r) in self.records.iter_mut().enumerate() {
            if let Some((at, reason)) = r.pending
                && at <= self.now
            {
                r.pending = None;
                restart(i, reason);
            }
        }
    }

    /// Restarts of child `i` so far (holding it counts as one).
    pub fn count(&self, i: usize) -> u64 {
        self.records[i].count
    }

    /// Whether child `i` is held.
    pub fn held(&self, i: usize) -> bool {
        self.records[i].held
    }

    /// Whether a restart of child `i` is pending.
    pub fn pending(&self, i: usize) -> bool {
        self.records[i].pending.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOLD3: RestartPolicy = RestartPolicy::Hold { max_restarts: 3, window_ms: 100, backoff_ms: 0 };

    #[test]
    fn hold_after_max_restarts_within_the_window() {
        let mut r = Restarts::new(1000); // 1 ms ticks
        assert_eq!([r.failed(0, HOLD3), r.failed(0, HOLD3), r.failed(0, HOLD3)], [Decision::Restart; 3]);
        assert_eq!(r.failed(0, HOLD3), Decision::Hold { recent: 3 });
        assert!(r.held(0));
        assert_eq!(r.failed(0, HOLD3), Decision::AlreadyHeld);
        assert_eq!(r.count(0), 4);
        assert!(!r.held(1), "other children are not affected");
    }

    #[test]
    fn restarts_older_than_the_window_do_not_count() {
        let mut r = Restarts::new(1000);
        for _ in 0..3 {
            assert_eq!(r.failed(0, HOLD3), Decision::Restart);
            for _ in 0..50 {
                r.tick(|_, _| {});
            }
        }
        // 150 ms later the first restart is out of the 100 ms window.
        assert_eq!(r.failed(0, HOLD3), Decision::Restart);
    }

    #[test]
    fn without_a_tick_the_window_is_the_whole_run() {
        let mut r = Restarts::new(0);
        for _ in 0..3 {
            assert_eq!(r.failed(2, HOLD3), Decision::Restart);
        }
        assert_eq!(r.failed(2, HOLD3), Decision::Hold { recent: 3 });
    }

    #[test]
    fn backoff_doubles_and_restarts_when_due() {
        let p = RestartPolicy::Always { backoff_ms: 10 };
        let mut r = Restarts::new(2000); // 2 ms ticks
        assert_eq!(r.failed(1, p), Decision::RestartAt { at: 5, delay_ms: 10 });
        r.defer(1, 5, 7);
        assert_eq!(r.failed(1, p), Decision::RestartAt { at: 10, delay_ms: 20 }, "the second in a row waits twice as long");
        let mut done = heapless_log();
        for _ in 0..5 {
            r.tick(|i, reason| done.push((i, reason, 0)));
        }
        assert_eq!(done.as_slice(), &[(1, 7, 0)]);
        assert!(!r.pending(1));
        assert_eq!(r.failed(5, RestartPolicy::Always { backoff_ms: 0 }), Decision::Restart);
    }

    /// A small fixed log for the tests (no allocator in a no_std crate).
    fn heapless_log() -> Log {
        Log { items: [(0, 0, 0); 8], len: 0 }
    }

    struct Log {
        items: [(usize, u64, u64); 8],
        len: usize,
    }

    impl Log {
        fn push(&mut self, x: (usize, u64, u64)) {
            self.items[self.len] = x;
            self.len += 1;
        }
        fn as_slice(&self) -> &[(usize, u64, u64)] {
            &self.items[..self.len]
        }
    }
}
