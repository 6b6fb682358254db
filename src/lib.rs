//! secretsync: one encrypted, canonical set of an application's secrets, replicated into each
//! environment's own backend.

pub mod config;
pub mod declare;
pub mod model;
pub mod store;
pub mod cli;
pub mod keys;
pub mod output;
