//! The `?` parameters, checked up front as AWS's PartiQL front end checks them: in
//! order, each value depth first, numbers by the older layer
//! ([`Number::parse_older`]: Java `BigDecimal` first), documents no deeper than an
//! item's, and the refusal bare. Without this the item call a statement becomes would
//! report them wrapped as ExpressionAttributeValues errors, in the newer layer's terms
//! (nubo-db/dynamodb-conformance `error-messages/partiqlParameterNumbers`, AWS).
//!
//! Members of an `M` are visited in key order, not as written: the request's JSON is
//! read into sorted maps. When two members of one map are both wrong, AWS may name the
//! other one.

use serde_json::Value as Json;

use crate::api::dynamodb::DynamoError;
use crate::model::number::Number;
use crate::model::value::{MAX_DOCUMENT_LEVEL, MSG_NESTING};

/// The first parameter's first fault, if any.
pub fn check(params: &[Json]) -> Result<(), DynamoError> {
    params.iter().try_for_each(|p| walk(p, 1))
}

/// Only what this layer decides: anything else about a value's shape is left to the
/// decoding the item call does.
fn walk(value: &Json, level: usize) -> Result<(), DynamoError> {
    let Some(members) = value.as_object() else { return Ok(()) };
    for (kind, inner) in members {
        match (kind.as_str(), inner) {
            ("N", Json::String(s)) => number(s)?,
            ("NS", Json::Array(list)) => {
                list.iter().filter_map(Json::as_str).try_for_each(number)?;
            }
            ("M" | "L", _) if level > MAX_DOCUMENT_LEVEL => {
                return Err(DynamoError::validation(MSG_NESTING));
            }
            ("M", Json::Object(m)) => m.values().try_for_each(|v| walk(v, level + 1))?,
            ("L", Json::Array(l)) => l.iter().try_for_each(|v| walk(v, level + 1))?,
            _ => {}
        }
    }
    Ok(())
}

fn number(s: &str) -> Result<(), DynamoError> {
    Number::parse_older(s).map(drop).map_err(|e| DynamoError::validation(e.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(params: Json) -> String {
        let params = params.as_array().unwrap().clone();
        match check(&params) {
            Err(DynamoError::Validation(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    fn deep(levels: usize, bottom: Json) -> Json {
        (0..levels).fold(bottom, |v, _| json!({ "L": [v] }))
    }

    #[test]
    fn the_first_fault_in_order_is_reported_bare() {
        let nn = "The parameter cannot be converted to a numeric value";
        assert_eq!(
            message(json!([{"S": "a"}, {"N": "1e99999999999"}])),
            format!("{nn}: 1e99999999999")
        );
        assert_eq!(message(json!([{"N": ""}])), nn);
        assert_eq!(message(json!([{"NS": ["1", "x"]}])), format!("{nn}: x"));
        assert!(message(json!([{"N": "1e2147483647"}])).starts_with("Number underflow"));
        assert_eq!(message(json!([deep(40, json!({"N": "1"})), {"N": "abc"}])), MSG_NESTING);
        assert_eq!(
            message(json!([{"N": "abc"}, deep(40, json!({"N": "1"}))])),
            format!("{nn}: abc")
        );
        assert_eq!(message(json!([deep(40, json!({"N": "abc"}))])), MSG_NESTING);
        assert!(check(&[deep(30, json!({"N": "0e999"}))]).is_ok());
    }
}
