//! Chain files, the format: the model (plain data) and parsing with a
//! position for every value. Nothing here knows how a chain is run.

pub mod expect;
pub mod model;
pub mod parse;
pub mod parts;
pub mod reorder;
pub mod schema;
pub mod spans;
pub mod values;
pub mod yaml;

pub use model::Chain;
pub use parse::{Format, ParsedChain, parse, read_document};
