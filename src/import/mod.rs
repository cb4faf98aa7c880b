//! Turning requests written for other tools into chain steps:
//! `pytopus import curl` reads a curl command as browsers copy it,
//! `pytopus import har` a browser's capture of a whole session, and
//! `pytopus import postman` a Postman collection.

pub mod curl;
pub mod har;
pub mod postman;
pub mod request;
pub mod shell;
