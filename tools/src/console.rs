//! Judging a system's serial console: pass line, PD panics, PD faults.

/// What a console line decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The expected pass line appeared.
    Passed,
    /// A PD panicked (the runtime's panic line names it).
    Panicked {
        /// The PD's name.
        pd: String,
        /// The panic line.
        line: String,
    },
    /// The Microkit monitor reported a fault of a PD.
    Faulted {
        /// The PD's name.
        pd: String,
    },
}

/// The console line that passes a run.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PassLine {
    /// A line containing this text.
    Containing(String),
    /// Any line `tunnelkit: <what> passed`.
    AnySystemPassed,
}

/// Decides the outcome of a run from console lines.
#[derive(Clone, Debug)]
pub struct Judge {
    pass_line: PassLine,
    needed: usize,
    seen: usize,
    allow_panics: bool,
    /// PDs whose panics a supervisor handles (children in the system).
    supervised: Vec<String>,
}

/// What [`Judge::any_system_passed`] waits for, for messages.
pub const ANY_PASS_LINE: &str = "tunnelkit: <system> passed";

impl Judge {
    /// A judge that passes the run when a line contains `pass_line`.
    pub fn new(pass_line: impl Into<String>) -> Self {
        Self::counting(pass_line, 1)
    }

    /// A judge that passes the run once `needed` lines contained `pass_line`.
    pub fn counting(pass_line: impl Into<String>, needed: usize) -> Self {
        Self::judging(PassLine::Containing(pass_line.into()), needed)
    }

    fn judging(pass_line: PassLine, needed: usize) -> Self {
        Self { pass_line, needed, seen: 0, allow_panics: false, supervised: Vec::new() }
    }

    /// A judge that passes the run on the first line `tunnelkit: <what>
    /// passed` (what every tunnelkit test system prints when it passed).
    pub fn any_system_passed() -> Self {
        Self::judging(PassLine::AnySystemPassed, 1)
    }

    /// Does not fail the run on panics of these PDs: children of a
    /// supervisor, which restarts them (a panic is their fault path).
    pub fn allowing_panics_of(mut self, supervised: impl IntoIterator<Item = String>) -> Self {
        self.supervised.extend(supervised);
        self
    }

    /// Does not fail the run on PD panic lines (for fault-injection systems
    /// whose pods panic on purpose under a supervisor). Monitor-reported
    /// faults still fail it.
    pub fn allowing_panics(mut self) -> Self {
        self.allow_panics = true;
        self
    }

    /// The line that passes the run.
    pub fn pass_line(&self) -> &str {
        match &self.pass_line {
            PassLine::Containing(text) => text,
            PassLine::AnySystemPassed => ANY_PASS_LINE,
        }
    }

    /// Whether `line` is the pass line.
    pub fn passes(&self, line: &str) -> bool {
        match &self.pass_line {
            PassLine::Containing(text) => line.contains(text.as_str()),
            PassLine::AnySystemPassed => {
                let line = line.trim();
                line.starts_with("tunnelkit: ") && line.ends_with(" passed") && !line.starts_with("tunnelkit: PD '")
            }
        }
    }

    /// The verdict of one line, if it decides the run.
    pub fn line(&mut self, line: &str) -> Option<Verdict> {
        if let Some(rest) = line.split("tunnelkit: PD '").nth(1)
            && let Some((pd, after)) = rest.split_once('\'')
            && after.starts_with(" panicked")
            && !self.allow_panics
            && !self.supervised.iter().any(|s| s == pd)
        {
            return Some(Verdict::Panicked { pd: pd.to_string(), line: line.trim().to_string() });
        }
        if let Some(pd) = line.split("MON|ERROR: faulting PD: ").nth(1) {
            return Some(Verdict::Faulted { pd: pd.trim().to_string() });
        }
        if !self.passes(line) {
            return None;
        }
        self.seen += 1;
        (self.seen == self.needed).then_some(Verdict::Passed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_pass_panic_and_fault_lines() {
        let mut j = Judge::new("tunnelkit: demo passed");
        assert_eq!(j.line("tunnelkit: demo passed\r"), Some(Verdict::Passed));
        assert_eq!(
            j.line("tunnelkit: PD 'panicker' panicked at components/panicker/src/main.rs:17:5: boom"),
            Some(Verdict::Panicked {
                pd: "panicker".into(),
                line: "tunnelkit: PD 'panicker' panicked at components/panicker/src/main.rs:17:5: boom".into()
            })
        );
        assert_eq!(j.line("MON|ERROR: faulting PD: crypt\r"), Some(Verdict::Faulted { pd: "crypt".into() }));
        assert_eq!(j.line("client_a: tunnel: known answer ok"), None);
        assert_eq!(j.line("MON|INFO: PD 'crypt' is now passive!"), None);
    }

    #[test]
    fn panics_can_be_allowed_but_monitor_faults_cannot() {
        let mut j = Judge::new("done").allowing_panics();
        assert_eq!(j.line("tunnelkit: PD 'pod' panicked at a.rs:1:1: injected"), None);
        assert_eq!(j.line("MON|ERROR: faulting PD: pod"), Some(Verdict::Faulted { pd: "pod".into() }));
    }

    #[test]
    fn supervised_panics_are_allowed_and_any_system_pass_line_passes() {
        let mut j = Judge::any_system_passed().allowing_panics_of(["pod_c".to_string()]);
        assert_eq!(j.line("tunnelkit: PD 'pod_c' panicked at a.rs:1:1: injected"), None);
        assert!(matches!(j.line("tunnelkit: PD 'injector' panicked at a.rs:2:2: failed"), Some(Verdict::Panicked { .. })));
        assert_eq!(j.line("tunnelkit: PD 'x' passed"), None, "a PD line is not a pass line");
        assert_eq!(j.line("supervisor: tunnelkit: containment passed later"), None);
        assert_eq!(j.line("tunnelkit: containment passed\r"), Some(Verdict::Passed));
        assert_eq!(j.pass_line(), ANY_PASS_LINE);
    }

    #[test]
    fn counting_judges_wait_for_every_line() {
        let mut j = Judge::counting("bench crosstalk path=", 3);
        assert_eq!(j.line("bench crosstalk path=light completed=1"), None);
        assert_eq!(j.line("bench crosstalk path=heavy completed=1"), None);
        assert_eq!(j.line("bench crosstalk path=medium completed=1"), Some(Verdict::Passed));
    }
}
