//! The DynamoDB data model: exact numbers, attribute values and the expression language.
//!
//! Pure code: no I/O, no HTTP, no storage. Every error carries the exact message AWS
//! writes, and the caller (the api layer) turns it into the wire error.

pub mod blob;
pub mod error;
pub mod expr;
pub mod key_limits;
pub mod legacy;
pub mod number;
pub mod value;

pub use error::Error;
pub use number::Number;
pub use value::{AttributeValue, Item};
