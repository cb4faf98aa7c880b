//! Turning requests written for other tools into chain steps:
//! `pytopus import curl` reads a curl command as browsers copy it.

pub mod curl;
pub mod request;
pub mod shell;
