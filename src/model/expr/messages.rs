//! AWS's wording for the errors both the condition and the update checks raise
//! (dynalite's parsers, AWS-recorded in its tests, and nubo-db's conformance suite).

/// A function name AWS does not know (function names are case-sensitive).
pub(crate) fn unknown_function(name: &str) -> String {
    format!("Invalid function name; function: {name}")
}

/// A known function used where it cannot be: as an operand (except `size`), as a
/// condition (`size`, `if_not_exists`, `list_append`) or in the wrong expression kind.
pub(crate) fn misused_function(name: &str) -> String {
    format!("The function is not allowed to be used this way in an expression; function: {name}")
}

/// A wrong number of arguments.
pub(crate) fn operand_count(name: &str, n: usize) -> String {
    format!(
        "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {n}"
    )
}

/// An operand whose type the operator or function refuses (`t` is "S", "BOOL", ...).
pub(crate) fn operand_type(name: &str, t: &str) -> String {
    format!(
        "Incorrect operand type for operator or function; operator or function: {name}, operand type: {t}"
    )
}

/// A function whose first argument must be a document path.
pub(crate) fn requires_path(name: &str) -> String {
    format!("Operator or function requires a document path; operator or function: {name}")
}
