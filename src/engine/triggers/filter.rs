//! FilterCriteria of an event source mapping: the patterns compiled once at
//! CreateEventSourceMapping/UpdateEventSourceMapping, and the test of one rendered event
//! entry (`event::dynamodb` / `event::kinesis`) against them.
//!
//! The facts are docs/lambda-event-source-mappings.md §18 (DG-filter, DG-live, and the
//! LocalStack snapshots recorded on AWS: LS-ddb `test_dynamodb_event_filter`,
//! `test_dynamodb_invalid_event_filter`, LS-kin `test_kinesis_event_filtering_json_pattern`)
//! and §5 for the error text. Lambda "supports the same set of syntax and rules as Amazon
//! EventBridge": filters are ORed, the fields of a pattern ANDed, the values of a field's
//! list ORed.
//!
//! Where AWS is silent, the choices are:
//! - matchers see scalar leaves only: a key whose value is an object has no leaf, so
//!   `exists: false` matches it (RECORDED `exists_false_filter`) and `exists: true` does
//!   not; an array offers each of its scalar elements (EventBridge's rule), objects in it
//!   are skipped by leaf matchers and descended by nested patterns (any element);
//! - `numeric` matches JSON numbers only: DynamoDB's `N` strings are strings (RECORDED
//!   `numeric_filter`: `[{"numeric": [">", 100]}, {"anything-but": "101"}]` did not match
//!   `N "101"`);
//! - exact numbers compare as serde_json numbers: `300` and `300.0` differ as AWS says,
//!   but `3.0e2` equals `300.0` (AWS keeps them apart: it compares the text);
//! - `anything-but` with values matches any leaf not listed (null included); with
//!   `prefix`/`suffix`/`equals-ignore-case`/`wildcard` only string leaves;
//! - `{}` (or an empty nested object) matches everything; an empty list `[]` is invalid;
//!   `cidr` and operators inside `prefix` are not supported (invalid);
//! - Kinesis: a root `data` key addresses the payload, base64-decoded and parsed as JSON
//!   (a record whose payload is not JSON fails every pattern naming `data`); any other
//!   root key is looked up in the entry, then in its `kinesis` object, so both
//!   `{"kinesis": {"partitionKey": [..]}}` and `{"partitionKey": [..]}` work (the docs
//!   disagree on whether metadata may be filtered at all, §18).

use base64::Engine as _;
use serde_json::{Map, Number, Value};

/// The default quota of filters per mapping (DOCUMENTED: 5, raised to 10 on request).
pub const MAX_FILTERS: usize = 5;

/// Which source a mapping reads: it decides how Kinesis' `data` is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    DynamoDb,
    Kinesis,
}

/// Why FilterCriteria was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// AWS's text, RECORDED (§5).
    #[error("Invalid filter pattern definition.")]
    InvalidPattern,
    /// AWS documents that creation fails but its message was not found (§18, §22): this
    /// text is sluice's.
    #[error("Invalid FilterCriteria: {0} filters given, at most {MAX_FILTERS} are allowed.")]
    TooManyFilters(usize),
}

/// A mapping's compiled filters: a record passes if any pattern matches it.
#[derive(Debug, Clone)]
pub struct Filters {
    patterns: Vec<Fields>,
    source: SourceKind,
}

/// The keys of one (nested) object of a pattern, each of which must match.
type Fields = Vec<(String, Node)>;

#[derive(Debug, Clone)]
enum Node {
    /// A list of matchers, any of which may match one leaf.
    Leaf(Vec<Matcher>),
    Nested(Fields),
}

#[derive(Debug, Clone)]
enum Matcher {
    Exact(Value),
    Prefix(String),
    Suffix(String),
    /// Held lowercased.
    EqualsIgnoreCase(String),
    AnythingBut(Vec<Value>),
    AnythingButText(Text),
    Numeric {
        lower: Option<(f64, bool)>,
        upper: Option<(f64, bool)>,
    },
    Exists(bool),
    Wildcard(Wildcard),
}

/// A string test `anything-but` can negate.
#[derive(Debug, Clone)]
enum Text {
    Prefix(String),
    Suffix(String),
    /// Lowercased, any of them.
    EqualsIgnoreCase(Vec<String>),
    Wildcard(Wildcard),
}

/// `a*b*c`: the literal pieces between stars (an escaped star `\*` is literal).
#[derive(Debug, Clone)]
struct Wildcard {
    pieces: Vec<String>,
}

/// Compiles `{"Filters": [{"Pattern": "<json>"}, ...]}`. `Ok(None)` when nothing filters:
/// absent/null criteria, `{}` or an empty `Filters` list (how AWS removes filters).
pub fn compile(criteria: &Value, source: SourceKind) -> Result<Option<Filters>, FilterError> {
    let filters = match criteria {
        Value::Null => return Ok(None),
        Value::Object(c) => match c.get("Filters") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(f)) => f,
            Some(_) => return Err(FilterError::InvalidPattern),
        },
        _ => return Err(FilterError::InvalidPattern),
    };
    if filters.is_empty() {
        return Ok(None);
    }
    if filters.len() > MAX_FILTERS {
        return Err(FilterError::TooManyFilters(filters.len()));
    }
    let mut patterns = Vec::with_capacity(filters.len());
    for filter in filters {
        let text = filter.get("Pattern").and_then(Value::as_str);
        let text = text.ok_or(FilterError::InvalidPattern)?;
        // Duplicate keys: serde_json keeps the last, which is AWS's documented rule.
        let pattern: Value = serde_json::from_str(text).map_err(|_| FilterError::InvalidPattern)?;
        let Value::Object(root) = pattern else { return Err(FilterError::InvalidPattern) };
        // "non-JSON data pattern → error at create/update" (DG-filter table): for Kinesis
        // the payload is only ever matched as JSON, so `data` must hold nested patterns.
        if source == SourceKind::Kinesis && root.get("data").is_some_and(|d| !d.is_object()) {
            return Err(FilterError::InvalidPattern);
        }
        patterns.push(fields(&root)?);
    }
    Ok(Some(Filters { patterns, source }))
}

fn fields(object: &Map<String, Value>) -> Result<Fields, FilterError> {
    let mut out = Vec::with_capacity(object.len());
    for (key, value) in object {
        let node = match value {
            Value::Object(nested) => Node::Nested(fields(nested)?),
            Value::Array(list) if !list.is_empty() => {
                Node::Leaf(list.iter().map(matcher).collect::<Result<_, _>>()?)
            }
            _ => return Err(FilterError::InvalidPattern),
        };
        out.push((key.clone(), node));
    }
    Ok(out)
}

fn matcher(value: &Value) -> Result<Matcher, FilterError> {
    let bad = FilterError::InvalidPattern;
    let operator = match value {
        Value::Object(op) if op.len() == 1 => op.iter().next().ok_or(bad.clone())?,
        Value::Object(_) | Value::Array(_) => return Err(bad),
        scalar => return Ok(Matcher::Exact(scalar.clone())),
    };
    Ok(match (operator.0.as_str(), operator.1) {
        ("prefix", Value::String(s)) => Matcher::Prefix(s.clone()),
        ("suffix", Value::String(s)) => Matcher::Suffix(s.clone()),
        ("equals-ignore-case", Value::String(s)) => Matcher::EqualsIgnoreCase(lower(s)),
        ("wildcard", Value::String(s)) => Matcher::Wildcard(wildcard(s)?),
        ("exists", Value::Bool(b)) => Matcher::Exists(*b),
        ("numeric", Value::Array(terms)) => numeric(terms)?,
        ("anything-but", v @ (Value::String(_) | Value::Number(_))) => {
            Matcher::AnythingBut(vec![v.clone()])
        }
        ("anything-but", Value::Array(vs))
            if !vs.is_empty() && vs.iter().all(|v| v.is_string() || v.is_number()) =>
        {
            Matcher::AnythingBut(vs.clone())
        }
        ("anything-but", Value::Object(op)) if op.len() == 1 => {
            let (name, arg) = op.iter().next().ok_or(bad.clone())?;
            Matcher::AnythingButText(match (name.as_str(), arg) {
                ("prefix", Value::String(s)) => Text::Prefix(s.clone()),
                ("suffix", Value::String(s)) => Text::Suffix(s.clone()),
                ("wildcard", Value::String(s)) => Text::Wildcard(wildcard(s)?),
                ("equals-ignore-case", Value::String(s)) => Text::EqualsIgnoreCase(vec![lower(s)]),
                ("equals-ignore-case", Value::Array(vs)) if !vs.is_empty() => {
                    let all = vs.iter().map(|v| v.as_str().map(lower).ok_or(bad.clone()));
                    Text::EqualsIgnoreCase(all.collect::<Result<_, _>>()?)
                }
                _ => return Err(bad),
            })
        }
        _ => return Err(bad),
    })
}

/// `["=", x]`, `[op, x]`, or a lower bound and an upper bound in either order.
fn numeric(terms: &[Value]) -> Result<Matcher, FilterError> {
    let bad = FilterError::InvalidPattern;
    if terms.is_empty() || terms.len() > 4 || !terms.len().is_multiple_of(2) {
        return Err(bad);
    }
    let (mut lower, mut upper) = (None, None);
    for pair in terms.chunks(2) {
        let op = pair[0].as_str().ok_or(bad.clone())?;
        let x = pair[1].as_f64().ok_or(bad.clone())?;
        let (slot, bound) = match op {
            "=" if terms.len() == 2 => {
                upper = Some((x, true));
                (&mut lower, (x, true))
            }
            ">" => (&mut lower, (x, false)),
            ">=" => (&mut lower, (x, true)),
            "<" => (&mut upper, (x, false)),
            "<=" => (&mut upper, (x, true)),
            _ => return Err(bad),
        };
        if slot.replace(bound).is_some() {
            return Err(bad);
        }
    }
    Ok(Matcher::Numeric { lower, upper })
}

fn wildcard(pattern: &str) -> Result<Wildcard, FilterError> {
    let mut pieces = vec![String::new()];
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('*' | '\\')) => pieces.last_mut().map_or((), |p| p.push(e)),
                _ => return Err(FilterError::InvalidPattern),
            },
            // EventBridge refuses consecutive stars.
            '*' if pieces.len() > 1 && pieces.last().is_some_and(String::is_empty) => {
                return Err(FilterError::InvalidPattern);
            }
            '*' => pieces.push(String::new()),
            c => pieces.last_mut().map_or((), |p| p.push(c)),
        }
    }
    Ok(Wildcard { pieces })
}

fn lower(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

impl Filters {
    /// Whether one rendered entry (a JSON object) passes: any pattern matches. An entry
    /// that is not JSON matches nothing.
    pub fn matches(&self, entry: &[u8]) -> bool {
        let Ok(Value::Object(entry)) = serde_json::from_slice::<Value>(entry) else {
            return false;
        };
        // Kinesis payload, decoded at most once per record and only if a pattern asks.
        let mut data: Option<Option<Value>> = None;
        self.patterns.iter().any(|p| match self.source {
            SourceKind::DynamoDb => fields_match(p, Some(&entry)),
            SourceKind::Kinesis => kinesis_match(p, &entry, &mut data),
        })
    }
}

fn kinesis_match(
    pattern: &Fields,
    entry: &Map<String, Value>,
    data: &mut Option<Option<Value>>,
) -> bool {
    let record = entry.get("kinesis").and_then(Value::as_object);
    pattern.iter().all(|(key, node)| {
        if key == "data" {
            match data.get_or_insert_with(|| decode(record)) {
                Some(payload) => node_match(node, Some(payload)),
                None => false,
            }
        } else {
            node_match(node, entry.get(key).or_else(|| record.and_then(|r| r.get(key))))
        }
    })
}

fn decode(record: Option<&Map<String, Value>>) -> Option<Value> {
    let text = record?.get("data")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `object` None: the pattern's object is absent from the entry (or is not an object),
/// so only leaves testing absence can match inside it.
fn fields_match(pattern: &Fields, object: Option<&Map<String, Value>>) -> bool {
    pattern.iter().all(|(key, node)| node_match(node, object.and_then(|o| o.get(key))))
}

fn node_match(node: &Node, value: Option<&Value>) -> bool {
    match node {
        Node::Leaf(matchers) => matchers.iter().any(|m| leaf_match(m, value)),
        Node::Nested(pattern) => match value {
            Some(Value::Object(o)) => fields_match(pattern, Some(o)),
            Some(Value::Array(items)) if items.iter().any(Value::is_object) => {
                items.iter().filter_map(Value::as_object).any(|o| fields_match(pattern, Some(o)))
            }
            _ => fields_match(pattern, None),
        },
    }
}

fn leaf_match(matcher: &Matcher, value: Option<&Value>) -> bool {
    let Some(value) = value else { return matches!(matcher, Matcher::Exists(false)) };
    match matcher {
        Matcher::Exists(wanted) => any_leaf(value, &mut |_| true) == *wanted,
        m => any_leaf(value, &mut |leaf| scalar_match(m, leaf)),
    }
}

/// Whether `test` holds for a scalar leaf of `value`: itself, or an element of an array
/// (arrays of arrays flattened); objects have none.
fn any_leaf(value: &Value, test: &mut impl FnMut(&Value) -> bool) -> bool {
    match value {
        Value::Object(_) => false,
        Value::Array(items) => items.iter().any(|v| any_leaf(v, test)),
        scalar => test(scalar),
    }
}

fn scalar_match(matcher: &Matcher, leaf: &Value) -> bool {
    match matcher {
        Matcher::Exact(want) => exact(want, leaf),
        Matcher::Prefix(p) => leaf.as_str().is_some_and(|s| s.starts_with(p.as_str())),
        Matcher::Suffix(p) => leaf.as_str().is_some_and(|s| s.ends_with(p.as_str())),
        Matcher::EqualsIgnoreCase(p) => leaf.as_str().is_some_and(|s| eq_ignore_case(s, p)),
        Matcher::AnythingBut(values) => !values.iter().any(|v| exact(v, leaf)),
        Matcher::AnythingButText(t) => leaf.as_str().is_some_and(|s| !text_match(t, s)),
        Matcher::Numeric { lower, upper } => {
            leaf.as_number().and_then(Number::as_f64).is_some_and(|x| {
                lower.is_none_or(|(b, eq)| x > b || (eq && x == b))
                    && upper.is_none_or(|(b, eq)| x < b || (eq && x == b))
            })
        }
        Matcher::Wildcard(w) => leaf.as_str().is_some_and(|s| w.matches(s)),
        Matcher::Exists(wanted) => *wanted,
    }
}

fn exact(want: &Value, leaf: &Value) -> bool {
    // serde_json's Number equality keeps integers and floats apart (300 ≠ 300.0).
    match (want, leaf) {
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => a == b,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Null, Value::Null) => true,
        _ => false,
    }
}

fn text_match(text: &Text, s: &str) -> bool {
    match text {
        Text::Prefix(p) => s.starts_with(p.as_str()),
        Text::Suffix(p) => s.ends_with(p.as_str()),
        Text::EqualsIgnoreCase(ps) => ps.iter().any(|p| eq_ignore_case(s, p)),
        Text::Wildcard(w) => w.matches(s),
    }
}

/// `lowered` is already lowercase; compares without allocating.
fn eq_ignore_case(s: &str, lowered: &str) -> bool {
    s.chars().flat_map(char::to_lowercase).eq(lowered.chars())
}

impl Wildcard {
    fn matches(&self, s: &str) -> bool {
        let Some((first, rest)) = self.pieces.split_first() else { return true };
        let Some(mut s) = s.strip_prefix(first.as_str()) else { return false };
        let Some((last, middle)) = rest.split_last() else { return s.is_empty() };
        // Leftmost placement of each middle piece leaves the most room for the rest.
        for piece in middle {
            match s.find(piece.as_str()) {
                Some(at) => s = &s[at + piece.len()..],
                None => return false,
            }
        }
        s.ends_with(last.as_str())
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
