//! Rendering for people (tables, plans) and for programs (JSON, one document on stdout).

pub mod migrate;
pub mod overview;
pub mod plan;
pub mod printer;
pub mod secrets;

pub use printer::{Human, Printer, StdoutClosed};

use comfy_table::{presets::UTF8_BORDERS_ONLY, ContentArrangement, Table};
use serde::Serialize;

/// Prints `value` as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
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
