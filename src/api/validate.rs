//! AWS's input validation messages ("N validation errors detected: Value ... at '...'
//! failed to satisfy constraint: ..."), collected in request order.

use std::fmt::Display;

/// True for a string matching `[a-zA-Z0-9_.-]+`: the pattern of DynamoDB table, index
/// and backup names and of Kinesis stream and consumer names.
pub fn is_name(v: &str) -> bool {
    !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Collects constraint violations for one request.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<String>,
}

/// How AWS prints a value inside a constraint message.
pub fn show(value: Option<&str>) -> String {
    match value {
        Some(v) => format!("'{v}'"),
        None => "null".into(),
    }
}

impl Validator {
    /// A new, empty validator.
    pub fn new() -> Self {
        Validator::default()
    }

    /// Records that `value` at `path` breaks `constraint` ("Member must <constraint>").
    /// Paths are anything printable, so a caller can pass `format_args!` and pay for the
    /// path only when something fails (PutRecords checks 500 entries per call).
    pub fn fail(&mut self, value: Option<&str>, path: impl Display, constraint: &str) {
        self.fail_constraint(value, path, &format!("Member must {constraint}"));
    }

    /// Records a violation AWS words without "Member must" ("Map keys must satisfy
    /// constraint: [...]").
    pub fn fail_constraint(&mut self, value: Option<&str>, path: impl Display, constraint: &str) {
        self.errors.push(format!(
            "Value {} at '{path}' failed to satisfy constraint: {constraint}",
            show(value)
        ));
    }

    /// Records a violation AWS words without echoing the value ("Value at
    /// 'RequestItems.t.member.Keys' failed to satisfy constraint: ...").
    pub fn fail_unshown(&mut self, path: &str, constraint: &str) {
        self.errors.push(format!("Value at '{path}' failed to satisfy constraint: {constraint}"));
    }

    /// Records violations already worded (the model's legacy-parameter checks).
    pub fn extend(&mut self, violations: impl IntoIterator<Item = String>) {
        self.errors.extend(violations);
    }

    /// A required member.
    pub fn not_null<T: ?Sized>(&mut self, value: Option<&T>, path: impl Display) -> bool {
        if value.is_none() {
            self.fail(None, path, "not be null");
        }
        value.is_some()
    }

    /// A string matching `[a-zA-Z0-9_.-]+` of 3 to 255 characters (table and index names).
    pub fn name(&mut self, value: Option<&str>, path: &str, min: usize) {
        if let Some(v) = value {
            if !is_name(v) {
                self.fail(Some(v), path, "satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
            }
            if v.len() < min {
                self.fail(Some(v), path, &format!("have length greater than or equal to {min}"));
            }
            if v.len() > 255 {
                self.fail(Some(v), path, "have length less than or equal to 255");
            }
        }
    }

    /// The TableName of a data-plane call (items, queries, batches, transactions): a
    /// table name or a table ARN, as AWS checks it today (nubo-db/dynamodb-conformance
    /// error-messages/putItem, transactWriteItems, validation-ordering/updateItem,
    /// eu-west-2 and us-east-1, October 2026): required, at least 1 character, and a
    /// name (not an ARN) at most 255 characters of `[a-zA-Z0-9_.-]`. A name too short
    /// to exist is then simply not found.
    pub fn table_name(&mut self, value: Option<&str>, path: &str) {
        let Some(v) = value else {
            self.not_null::<str>(None, path);
            return;
        };
        if v.is_empty() {
            self.fail(Some(v), path, "have length greater than or equal to 1");
            return;
        }
        if v.starts_with("arn:") {
            if v.len() > 1024 {
                self.fail(Some(v), path, "have length less than or equal to 1024");
            }
            return;
        }
        if v.len() > 255 {
            self.fail(Some(v), path, "have length less than or equal to 255");
        }
        if !is_name(v) {
            self.fail(Some(v), path, "satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
        }
    }

    /// A member restricted to `allowed` values.
    pub fn one_of(&mut self, value: Option<&str>, path: &str, allowed: &[&str]) {
        if let Some(v) = value
            && !allowed.contains(&v)
        {
            self.fail(Some(v), path, &format!("satisfy enum value set: [{}]", allowed.join(", ")));
        }
    }

    /// An integer of at least `min`.
    pub fn at_least(&mut self, value: Option<i64>, path: &str, min: i64) {
        if let Some(v) = value
            && v < min
        {
            self.fail(
                Some(&v.to_string()),
                path,
                &format!("have value greater than or equal to {min}"),
            );
        }
    }

    /// An integer of at most `max`.
    pub fn at_most(&mut self, value: Option<i64>, path: &str, max: i64) {
        if let Some(v) = value
            && v > max
        {
            self.fail(
                Some(&v.to_string()),
                path,
                &format!("have value less than or equal to {max}"),
            );
        }
    }

    /// A string length within bounds.
    pub fn length(&mut self, value: Option<&str>, path: impl Display, min: usize, max: usize) {
        if let Some(v) = value {
            let n = v.chars().count();
            if n < min {
                self.fail(Some(v), &path, &format!("have length greater than or equal to {min}"));
            }
            if n > max {
                self.fail(Some(v), path, &format!("have length less than or equal to {max}"));
            }
        }
    }

    /// The message AWS sends for the collected errors, if any.
    pub fn finish(self) -> Result<(), String> {
        match self.errors.len() {
            0 => Ok(()),
            1 => Err(format!("1 validation error detected: {}", self.errors[0])),
            n => Err(format!("{n} validation errors detected: {}", self.errors.join("; "))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_aws() {
        let mut v = Validator::new();
        v.not_null::<String>(None, "attributeDefinitions");
        v.name(Some("abc;"), "tableName", 3);
        assert_eq!(
            v.finish().unwrap_err(),
            "2 validation errors detected: Value null at 'attributeDefinitions' failed to satisfy constraint: Member must not be null; Value 'abc;' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        );
        let mut v = Validator::new();
        v.one_of(Some("Woop"), "keySchema.3.member.keyType", &["HASH", "RANGE"]);
        assert_eq!(
            v.finish().unwrap_err(),
            "1 validation error detected: Value 'Woop' at 'keySchema.3.member.keyType' failed to satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]"
        );
        assert!(Validator::new().finish().is_ok());
    }
}
