//! IAM identity policies, as AWS evaluates them for one principal: a request is allowed
//! when some statement allows its action on its resource and none denies it (an explicit
//! Deny wins; nothing allowing it is an implicit deny). Actions match case-insensitively,
//! resources case-sensitively, both with `*` (any run) and `?` (any one character).
//!
//! Conditions are not evaluated: a statement with a `Condition` is taken as never
//! matching when it allows and as always matching when it denies, so a condition can
//! only ever make sluice refuse more than AWS would, never allow more.

use serde_json::Value;

/// The most statements a policy may hold (AWS caps a managed policy at 6,144 characters,
/// which holds far fewer).
const MAX_STATEMENTS: usize = 1000;

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    allow: bool,
    /// `Action` patterns, or (`not`) `NotAction`'s.
    actions: Patterns,
    resources: Patterns,
    conditional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Patterns {
    not: bool,
    list: Vec<String>,
}

/// What the policy says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A statement denies it.
    ExplicitDeny,
    /// No statement allows it.
    ImplicitDeny,
}

impl Policy {
    /// Parses a policy document (JSON text), or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let Some(doc) = doc.as_object() else { return Err("not a JSON object".into()) };
        for key in doc.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(format!("unknown member '{key}'"));
            }
        }
        if let Some(v) = doc.get("Version")
            && !matches!(v.as_str(), Some("2012-10-17" | "2008-10-17"))
        {
            return Err("Version must be \"2012-10-17\" or \"2008-10-17\"".into());
        }
        let statements = match doc.get("Statement") {
            Some(Value::Array(list)) => list.iter().collect::<Vec<_>>(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => return Err("Statement must be an object or a list of objects".into()),
        };
        if statements.len() > MAX_STATEMENTS {
            return Err(format!("more than {MAX_STATEMENTS} statements"));
        }
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(i, s)| Statement::parse(s).map_err(|e| format!("Statement[{i}]: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Policy { statements })
    }

    /// A policy that allows nothing.
    pub fn deny_all() -> Policy {
        Policy { statements: Vec::new() }
    }

    /// Whether `action` (`service:Operation`) on `resource` (an ARN, or `*`) is allowed.
    pub fn decide(&self, action: &str, resource: &str) -> Decision {
        let mut allowed = false;
        for s in &self.statements {
            let applies = s.actions.matches(action, true) && s.resources.matches(resource, false);
            match (s.allow, applies, s.conditional) {
                (false, true, _) => return Decision::ExplicitDeny,
                (true, true, false) => allowed = true,
                _ => {}
            }
        }
        if allowed { Decision::Allow } else { Decision::ImplicitDeny }
    }
}

impl Statement {
    fn parse(s: &Value) -> Result<Statement, String> {
        let Some(s) = s.as_object() else { return Err("not an object".into()) };
        for key in s.keys() {
            let known = matches!(
                key.as_str(),
                "Sid"
                    | "Effect"
                    | "Action"
                    | "NotAction"
                    | "Resource"
                    | "NotResource"
                    | "Condition"
            );
            if !known {
                return Err(format!(
                    "unknown member '{key}' (principals belong to resource policies)"
                ));
            }
        }
        let allow = match s.get("Effect").and_then(Value::as_str) {
            Some("Allow") => true,
            Some("Deny") => false,
            _ => return Err("Effect must be \"Allow\" or \"Deny\"".into()),
        };
        let actions = Patterns::parse(s.get("Action"), s.get("NotAction"), "Action")?;
        let resources = Patterns::parse(s.get("Resource"), s.get("NotResource"), "Resource")?;
        Ok(Statement { allow, actions, resources, conditional: s.contains_key("Condition") })
    }
}

impl Patterns {
    fn parse(yes: Option<&Value>, no: Option<&Value>, name: &str) -> Result<Patterns, String> {
        let (not, value) = match (yes, no) {
            (Some(v), None) => (false, v),
            (None, Some(v)) => (true, v),
            _ => return Err(format!("exactly one of {name} and Not{name} is required")),
        };
        let list = match value {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("{name} must be a string or a list of strings"))?,
            _ => return Err(format!("{name} must be a string or a list of strings")),
        };
        if list.is_empty() {
            return Err(format!("{name} must not be empty"));
        }
        if name == "Action" && list.iter().any(|a| a != "*" && !a.contains(':')) {
            return Err("an action is written service:Operation, such as dynamodb:GetItem".into());
        }
        Ok(Patterns { not, list })
    }

    fn matches(&self, value: &str, fold_case: bool) -> bool {
        self.list.iter().any(|p| wildcard(p, value, fold_case)) != self.not
    }
}

/// Whether `value` matches `pattern`, whose `*` matches any run and `?` any one character.
pub fn wildcard(pattern: &str, value: &str, fold_case: bool) -> bool {
    let norm = |s: &str| if fold_case { s.to_ascii_lowercase() } else { s.to_string() };
    let (p, v): (Vec<char>, Vec<char>) =
        (norm(pattern).chars().collect(), norm(value).chars().collect());
    // Iterative matching with one backtrack point: linear in practice, never exponential.
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/orders";

    #[test]
    fn wildcards_match_as_iam_does() {
        assert!(wildcard("dynamodb:*", "DynamoDB:GetItem", true));
        assert!(wildcard("kinesis:PutRecord*", "kinesis:PutRecords", true));
        assert!(wildcard("*", "anything", false));
        assert!(wildcard("arn:aws:dynamodb:*:*:table/ord?rs", TABLE, false));
        assert!(
            !wildcard("arn:aws:dynamodb:*:*:table/Orders", TABLE, false),
            "resources keep case"
        );
        assert!(wildcard(
            "arn:aws:dynamodb:*:*:table/orders/stream/*",
            &format!("{TABLE}/stream/2026"),
            false
        ));
        assert!(!wildcard("arn:aws:dynamodb:*:*:table/orders", &format!("{TABLE}/index/i"), false));
        assert!(wildcard("a*b*c", "aXXbYYc", false) && !wildcard("a*b*c", "aXXbYY", false));
    }

    #[test]
    fn explicit_deny_wins_and_nothing_allowing_denies() {
        let p = Policy::parse(&format!(
            r#"{{"Version":"2012-10-17","Statement":[
              {{"Effect":"Allow","Action":["dynamodb:*"],"Resource":"*"}},
              {{"Effect":"Deny","Action":"dynamodb:DeleteTable","Resource":"{TABLE}"}},
              {{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Condition":{{"Bool":{{"aws:SecureTransport":"true"}}}}}},
              {{"Effect":"Deny","NotAction":["dynamodb:*","kinesis:*"],"Resource":"*"}}]}}"#
        ))
        .unwrap();
        assert_eq!(p.decide("dynamodb:GetItem", TABLE), Decision::Allow);
        assert_eq!(p.decide("dynamodb:DeleteTable", TABLE), Decision::ExplicitDeny);
        assert_eq!(
            p.decide("dynamodb:DeleteTable", "arn:aws:dynamodb:us-east-1:000000000000:table/other"),
            Decision::Allow
        );
        assert_eq!(
            p.decide("kinesis:PutRecord", "*"),
            Decision::ImplicitDeny,
            "a condition never allows"
        );
        assert_eq!(p.decide("lambda:InvokeFunction", "*"), Decision::ExplicitDeny);
        let one = Policy::parse(r#"{"Statement":{"Effect":"Allow","Action":"dynamodb:GetItem","NotResource":"arn:aws:dynamodb:*:*:table/secret"}}"#).unwrap();
        assert_eq!(one.decide("dynamodb:getitem", TABLE), Decision::Allow);
        assert_eq!(
            one.decide("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:0:table/secret"),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn malformed_policies_are_refused_saying_why() {
        for (text, why) in [
            ("[]", "not a JSON object"),
            (r#"{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}"#, "Effect"),
            (r#"{"Statement":[{"Effect":"Allow","Resource":"*"}]}"#, "Action and NotAction"),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"GetItem","Resource":"*"}]}"#,
                "service:Operation",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":[]}]}"#,
                "must not be empty",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#,
                "Principal",
            ),
            (r#"{"Version":"2020","Statement":[]}"#, "Version"),
        ] {
            let e = Policy::parse(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
