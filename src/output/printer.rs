//! The one printer: a report as text for people or as one JSON document, progress bars on a
//! terminal only, notes on stderr, and a reader that closed the pipe ending the program quietly.

use crate::app::Progress;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::io::{IsTerminal, Write};

/// A report that can be shown to people.
pub trait Human {
    /// The text for stdout.
    fn human(&self) -> String;
}

/// Stdout was closed by its reader (`secretsync list | head -1`): not an error to report.
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed")]
pub struct StdoutClosed;

/// How output is shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Printer {
    /// One JSON document on stdout instead of text.
    pub json: bool,
    /// No progress bars and no notes.
    pub quiet: bool,
}

impl Printer {
    /// Prints `report` as JSON or text.
    pub fn report<R: Serialize + Human>(&self, report: &R) -> anyhow::Result<()> {
        if self.json {
            self.json_doc(report)
        } else {
            self.text(&report.human())
        }
    }

    /// Prints a JSON document.
    pub fn json_doc<R: Serialize + ?Sized>(&self, doc: &R) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(doc)?;
        text.push('\n');
        self.text(&text)
    }

    /// Writes text to stdout; a closed pipe is [`StdoutClosed`].
    pub fn text(&self, text: &str) -> anyhow::Result<()> {
        self.bytes(text.as_bytes())
    }

    /// Writes raw bytes to stdout (`get`'s value); a closed pipe is [`StdoutClosed`].
    pub fn bytes(&self, bytes: &[u8]) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        match out.write_all(bytes).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
            r => Ok(r?),
        }
    }

    /// A note for people on stderr (not in JSON mode or when quiet).
    pub fn note(&self, msg: &str) {
        if !self.json && !self.quiet {
            eprintln!("{msg}");
        }
    }

    /// A warning on stderr (always: it may be what a job's log needs).
    pub fn warn(&self, msg: &str) {
        eprintln!("warning: {msg}");
    }

    /// A progress reporter: a bar on a terminal, nothing in JSON mode, when quiet, or in CI.
    pub fn progress(&self) -> Bar {
        Bar {
            bar: std::sync::Mutex::new(None),
            enabled: !self.json && !self.quiet && std::io::stderr().is_terminal(),
        }
    }
}

/// A progress bar shown while items are worked through.
pub struct Bar {
    bar: std::sync::Mutex<Option<ProgressBar>>,
    enabled: bool,
}

impl Progress for Bar {
    fn start(&self, total: u64) {
        if !self.enabled || total == 0 {
            return;
        }
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed}") {
            bar.set_style(style);
        }
        *self.bar.lock().expect("progress lock") = Some(bar);
    }

    fn inc(&self) {
        if let Some(b) = self.bar.lock().expect("progress lock").as_ref() {
            b.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(b) = self.bar.lock().expect("progress lock").take() {
            b.finish_and_clear();
        }
    }
}
