//! Turning requests written for other tools into chain steps:
//! `pytopus import curl` reads a curl command as browsers copy it,
//! `pytopus import har` a browser's capture of a whole session.

pub mod curl;
pub mod har;
pub mod request;
pub mod shell;
