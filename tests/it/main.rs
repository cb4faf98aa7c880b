//! All integration tests in one binary.
//!
//! One test crate instead of one per file: each integration-test crate links
//! its own copy of pytopus and every dependency (hundreds of MB with debug
//! info), and CI ran out of disk with eighteen of them. Run one area with
//! `cargo test --test it run::` (module name = the file's name).

mod support;

mod arazzo;
mod architecture;
mod auth;
mod browser;
mod cli;
mod connectors;
mod control;
mod curl;
mod dashboard;
mod data;
mod docs;
mod engine;
mod examples;
mod expect;
mod first_hour;
mod flow;
mod fmt;
mod fuzz;
mod har;
mod history;
mod inputs;
mod jsonpath_cts;
#[cfg(target_os = "linux")]
mod keyring;
mod login;
mod mcp;
mod notify;
mod observability;
mod poll;
mod postman;
mod run;
mod security;
mod serve;
mod sigv4;
mod teardown;
mod tls;
mod transport;
mod upload;
mod validate;
mod watch;
