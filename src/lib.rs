//! secretsync: one encrypted, canonical set of an application's secrets, replicated into each
//! environment's own backend.

pub mod app;
pub mod cli;
pub mod config;
pub mod declare;
pub mod inject;
pub mod logs;
pub mod model;
pub mod output;
pub mod registry;
pub mod scheme;
pub mod store;
pub mod sync;
pub mod ui;
