//! Expressions (to be written).
