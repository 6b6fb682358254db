//! Rendering for people (tables, plans) and for programs (JSON, one document on stdout).

pub mod init;
pub mod inject;
pub mod keys;
pub mod migrate;
pub mod overview;
pub mod plan;
pub mod policy;
pub mod printer;
pub mod secrets;

pub use printer::{Human, Printer, StdoutClosed};

use comfy_table::presets::{NOTHING, UTF8_BORDERS_ONLY};
use comfy_table::{ContentArrangement, Table};

/// A time for people, as JSON writes it: UTC, seconds, `Z` (2026-11-29T10:00:00Z).
pub fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `n` and `word`, plural when `n` is not 1 ("1 secret", "2 secrets").
pub fn count(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A table with a header row, sized to the terminal when there is one.
pub fn table<I, S>(header: I) -> Table
where
    I: IntoIterator<Item = S>,
    S: Into<comfy_table::Cell>,
{
    let mut t = Table::new();
    let width = terminal_width();
    match width {
        // A terminal: borders, and columns fitted to its width (cells wrap between words).
        Some(w) => {
            t.load_preset(UTF8_BORDERS_ONLY)
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(w);
        }
        // A pipe or file (or a terminal that reports no width): plain aligned columns, whole
        // cells, nothing for a script to strip.
        None => {
            t.load_preset(NOTHING)
                .set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    t.set_header(header);
    t
}

/// The table as text, or `None` when stdout is a terminal narrower than the table's natural
/// width (the caller then stacks the rows instead of breaking words across lines).
pub fn render_fitting(mut t: Table) -> Option<String> {
    let Some(width) = terminal_width() else {
        return Some(t.to_string());
    };
    t.set_content_arrangement(ContentArrangement::Disabled);
    let text = t.to_string();
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    (widest <= usize::from(width)).then_some(text)
}

/// The width of the terminal stdout is, when it is one and reports a usable width.
fn terminal_width() -> Option<u16> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    comfy_table::Table::new().width().filter(|w| *w >= 20)
}
