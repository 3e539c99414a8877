//! The one error type of the model layer: which AWS exception it becomes, and AWS's message.

/// A model error. The api layer maps `Validation` to
/// `com.amazon.coral.validate#ValidationException` and `Serialization` to
/// `com.amazon.coral.service#SerializationException`, with the message verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A `ValidationException` with AWS's message.
    Validation(String),
    /// A `SerializationException` with AWS's message.
    Serialization(String),
}

impl Error {
    /// A `ValidationException` with this message.
    pub fn validation(msg: impl Into<String>) -> Self {
        Error::Validation(msg.into())
    }
    /// A `SerializationException` with this message.
    pub fn serialization(msg: impl Into<String>) -> Self {
        Error::Serialization(msg.into())
    }
    /// The message AWS sends, whichever the exception.
    pub fn message(&self) -> &str {
        match self {
            Error::Validation(m) | Error::Serialization(m) => m,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}
