//! Progress display for long steps (a spinner on a terminal, plain lines otherwise).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A running step.
pub struct Step {
    bar: ProgressBar,
    name: String,
}

impl Step {
    /// Starts a step called `name`.
    pub fn start(name: impl Into<String>) -> Self {
        let name = name.into();
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"));
        bar.set_message(name.clone());
        bar.enable_steady_tick(Duration::from_millis(120));
        if bar.is_hidden() {
            eprintln!("tunnelkit: {name} …");
        }
        Self { bar, name }
    }

    /// Updates the detail shown after the step's name.
    pub fn detail(&self, detail: &str) {
        self.bar.set_message(format!("{}: {detail}", self.name));
    }

    /// Ends the step with a one-line result.
    pub fn finish(self, result: &str) {
        self.bar.finish_and_clear();
        eprintln!("tunnelkit: {}: {result}", self.name);
    }

    /// Ends the step without a message (an error follows).
    pub fn fail(self) {
        self.bar.finish_and_clear();
    }
}
