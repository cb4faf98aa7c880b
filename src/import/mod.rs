//! Turning requests written for other tools into chain steps:
//! `pytopus import curl` reads a curl command as browsers copy it,
//! `pytopus import postman` a Postman collection.

pub mod curl;
pub mod postman;
pub mod request;
pub mod shell;
