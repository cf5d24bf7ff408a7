//! The driver's counters and the stats port, which answers any datagram with
//! one JSON object of them (and, in an accounted build, every path's CPU).

use core::fmt::Write;

use netstack::respond::{Drop, UdpApp};

/// What the pipeline has done so far.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    /// Frames received.
    pub rx: u64,
    /// Frames transmitted.
    pub tx: u64,
    /// Frames dropped by the classifier (or the driver), by reason.
    pub drops: [u64; Drop::ALL.len()],
    /// Frames a path's filter refused.
    pub filtered: u64,
    /// Frames a path's application refused (e.g. a bad sealed-echo request).
    pub refused: u64,
    /// Frames dropped because a path's queue was full.
    pub queue_full: u64,
    /// Answers dropped because every transmit buffer was in flight.
    pub tx_full: u64,
    /// Classifier calls that failed.
    pub classifier_errors: u64,
    /// Stats requests answered.
    pub stats: u64,
}

/// What the driver did with one path's frames. Frames dropped early are
/// charged to the path whose full queue caused the drop.
#[derive(Clone, Copy, Debug, Default)]
pub struct PathCounters {
    /// Frames handed to the path.
    pub delivered: u64,
    /// Frames dropped before classification because the path's queue was full.
    pub dropped_early: u64,
    /// Frames classified and then dropped because the queue had filled meanwhile.
    pub dropped_full: u64,
    /// Answers of the path transmitted.
    pub completed: u64,
}

/// The stats application (port `port`).
pub struct StatsApp<'a> {
    /// The counters.
    pub counters: &'a Counters,
    /// (free, total) packet buffers.
    pub buffers: (u16, u16),
    /// Per path: control, echo, sealed.
    pub paths: [PathCounters; 3],
    /// The stats port.
    pub port: u16,
    /// Each path's CPU so far, in an accounted build (`tunnelkit run
    /// --accounting`): the accountant's summary.
    pub cpu: Option<tunnelkit_runtime::account::Summary>,
}

impl UdpApp for StatsApp<'_> {
    fn datagram(&mut self, port: u16, _payload: &[u8], reply: &mut [u8]) -> Option<usize> {
        (port == self.port).then(|| self.json(reply))
    }
}

impl StatsApp<'_> {
    /// Writes the counters as one JSON object; returns its length.
    fn json(&self, out: &mut [u8]) -> usize {
        let c = self.counters;
        let mut w = SliceWriter { buf: out, len: 0 };
        let _ = write!(w, "{{\"rx\":{},\"tx\":{},\"drops\":{{", c.rx, c.tx);
        for (i, d) in Drop::ALL.iter().enumerate() {
            let _ = write!(w, "\"{}\":{},", d.name(), c.drops[i]);
        }
        let _ = write!(
            w,
            "\"filtered\":{},\"refused\":{},\"queue_full\":{},\"tx_full\":{}}},\"classifier_errors\":{},",
            c.filtered, c.refused, c.queue_full, c.tx_full, c.classifier_errors
        );
        let _ = write!(
            w,
            "\"free_buffers\":{},\"total_buffers\":{},\"completed\":{{\"control\":{},\"echo\":{},\"sealed\":{},\"stats\":{}}}",
            self.buffers.0, self.buffers.1, self.paths[0].completed, self.paths[1].completed, self.paths[2].completed, c.stats
        );
        let _ = write!(w, ",\"paths\":{{");
        for (i, (name, p)) in ["control", "echo", "sealed"].iter().zip(&self.paths).enumerate() {
            let _ = write!(
                w,
                "{}\"{name}\":{{\"delivered\":{},\"dropped_early\":{},\"dropped_full\":{},\"completed\":{}}}",
                if i == 0 { "" } else { "," },
                p.delivered,
                p.dropped_early,
                p.dropped_full,
                p.completed
            );
        }
        let _ = write!(w, "}}");
        // In an accounted build: every path's CPU (its scheduling context's
        // total, µs), from the accountant's summary.
        if let Some(summary) = self.cpu.filter(|s| s.ready()) {
            let _ = write!(w, ",\"cpu_us\":{{");
            for (i, e) in summary.entries().filter(|e| !e.passive).enumerate() {
                let _ = write!(w, "{}\"{}\":{}", if i == 0 { "" } else { "," }, e.name(), e.total_us);
            }
            let _ = write!(w, "}}");
        }
        let _ = write!(w, "}}");
        w.len
    }
}

/// `fmt::Write` into a byte slice, truncating when full.
struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
