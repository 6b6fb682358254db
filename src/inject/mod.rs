//! Getting secrets into programs: redacting them from output, rendering them for other tools,
//! and the local cache that lets `run --env local` work offline.

pub mod cache;
pub mod format;
pub mod redact;
