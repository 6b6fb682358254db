//! Rendering for people (tables, plans) and for programs (JSON, one document on stdout).

pub mod init;
pub mod inject;
pub mod keys;
pub mod migrate;
pub mod overview;
pub mod plan;
pub mod printer;
pub mod secrets;

pub use printer::{Human, Printer, StdoutClosed};

use comfy_table::{presets::UTF8_BORDERS_ONLY, ContentArrangement, Table};

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
    t.load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    t
}
