//! Chain files: the model, parsing with positions, and validation.

pub mod graph;
pub mod model;
pub mod parse;
pub mod spans;
pub mod validate;

pub use model::Chain;
pub use parse::{Format, ParsedChain, parse, read_document};
pub use validate::{BodySpec, Expectations, Extractor, ValidChain, ValidStep, validate};
