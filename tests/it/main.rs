//! Every integration test in one binary (one link instead of one per file): the CLI end to
//! end, against the emulators, the deploy files and the README's JSON shapes.

mod action;
mod architecture;
mod bad_input;
mod cli;
mod cli_aws;
mod cli_gcp;
mod cli_leaks;
mod cli_merge;
mod cli_reconcile;
mod cli_run;
mod cli_sync;
mod cli_vault;
mod common;
mod concurrency;
mod crash;
mod deploy;
mod faults;
mod json_schemas;
mod least_privilege;
mod previews;
mod scopes;
mod ui;
