//! FunctionName as Lambda takes it: a name (`my-function`), a partial ARN
//! (`123456789012:function:my-function`) or a full ARN
//! (`arn:aws:lambda:us-west-2:123456789012:function:my-function`), each optionally
//! followed by `:qualifier` (a version or alias), per the botocore model's
//! `NamespacedFunctionName` pattern:
//!
//! `(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?`

/// The longest FunctionName the model allows.
pub const MAX_FUNCTION_NAME: usize = 256;

/// A FunctionName, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    /// The region of a full ARN.
    pub region: Option<String>,
    /// The account of a full or partial ARN.
    pub account: Option<String>,
    /// A version or alias after the name.
    pub qualifier: Option<String>,
}

impl FunctionRef {
    /// The function's ARN in `region` and `account` unless the name gave its own,
    /// with the qualifier when there is one.
    pub fn arn(&self, region: &str, account: &str) -> String {
        let region = self.region.as_deref().unwrap_or(region);
        let account = self.account.as_deref().unwrap_or(account);
        let mut arn = format!("arn:aws:lambda:{region}:{account}:function:{}", self.name);
        if let Some(q) = &self.qualifier {
            arn.push(':');
            arn.push_str(q);
        }
        arn
    }
}

fn is_region(s: &str) -> bool {
    // [a-z]{2}((-gov)|(-iso[a-z]?))?-[a-z]+-\d
    let parts: Vec<&str> = s.split('-').collect();
    let lower = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    let digit = |p: &str| p.len() == 1 && p.as_bytes()[0].is_ascii_digit();
    let iso = |p: &str| {
        p == "gov"
            || (p.starts_with("iso") && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_lowercase()))
    };
    match parts.as_slice() {
        [cc, area, n] => cc.len() == 2 && lower(cc) && lower(area) && digit(n),
        [cc, special, area, n] => {
            cc.len() == 2 && lower(cc) && iso(special) && lower(area) && digit(n)
        }
        _ => false,
    }
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn is_qualifier(s: &str) -> bool {
    s == "$LATEST"
        || s == "$LATEST.PUBLISHED"
        || (!s.is_empty()
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')))
}

/// Parses a FunctionName; `None` when it does not match the model's pattern or length.
pub fn parse(input: &str) -> Option<FunctionRef> {
    if input.is_empty() || input.len() > MAX_FUNCTION_NAME {
        return None;
    }
    let mut parts: Vec<&str> = input.split(':').collect();
    let mut region = None;
    if parts.first() == Some(&"arn") {
        // arn:<partition>:lambda:<region>:...
        let partition = parts.get(1)?;
        if !(partition.is_empty() || partition.starts_with("aws"))
            || parts.get(2) != Some(&"lambda")
        {
            return None;
        }
        let valid_partition = partition.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-');
        if !valid_partition {
            return None;
        }
        parts.drain(..3);
        // The model makes the region optional even in an ARN.
        if parts.first().is_some_and(|p| is_region(p)) {
            region = Some(parts.remove(0).to_string());
        }
    } else if parts.first().is_some_and(|p| is_region(p)) && parts.len() > 1 {
        region = Some(parts.remove(0).to_string());
    }
    let mut account = None;
    if parts.first().is_some_and(|p| is_account(p)) && parts.len() > 1 {
        account = Some(parts.remove(0).to_string());
    }
    if parts.first() == Some(&"function") && parts.len() > 1 {
        parts.remove(0);
    }
    let (name, qualifier) = match parts.as_slice() {
        [name] => (*name, None),
        [name, qualifier] => (*name, Some(*qualifier)),
        _ => return None,
    };
    if !is_name(name) || qualifier.is_some_and(|q| !is_qualifier(q)) {
        return None;
    }
    Some(FunctionRef {
        name: name.to_string(),
        region,
        account,
        qualifier: qualifier.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fr(name: &str, region: Option<&str>, account: Option<&str>, q: Option<&str>) -> FunctionRef {
        FunctionRef {
            name: name.into(),
            region: region.map(Into::into),
            account: account.map(Into::into),
            qualifier: q.map(Into::into),
        }
    }

    #[test]
    fn names_partial_and_full_arns_parse() {
        let cases = [
            ("my-function", fr("my-function", None, None, None)),
            ("my-function:$LATEST", fr("my-function", None, None, Some("$LATEST"))),
            ("my-function:prod", fr("my-function", None, None, Some("prod"))),
            ("123456789012:function:f", fr("f", None, Some("123456789012"), None)),
            ("123456789012:function:f:7", fr("f", None, Some("123456789012"), Some("7"))),
            (
                "arn:aws:lambda:us-west-2:123456789012:function:f",
                fr("f", Some("us-west-2"), Some("123456789012"), None),
            ),
            (
                "arn:aws:lambda:us-gov-west-1:123456789012:function:f:alias_1",
                fr("f", Some("us-gov-west-1"), Some("123456789012"), Some("alias_1")),
            ),
            (
                "arn:aws-cn:lambda:cn-north-1:123456789012:function:f",
                fr("f", Some("cn-north-1"), Some("123456789012"), None),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), Some(want), "{input}");
        }
    }

    #[test]
    fn what_the_pattern_refuses_is_refused() {
        let long = "f".repeat(257);
        for bad in [
            "",
            "my function",
            "f:",
            "f:a:b",
            "f:bad qualifier",
            "arn:aws:s3:::bucket",
            "arn:aws:lambda:us-east-1:123456789012:function:",
            "f/g",
            "f\u{e9}",
            long.as_str(),
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn arns_fill_in_what_the_name_left_out() {
        let f = parse("f:prod").unwrap();
        assert_eq!(
            f.arn("eu-west-1", "000000000000"),
            "arn:aws:lambda:eu-west-1:000000000000:function:f:prod"
        );
        let f = parse("arn:aws:lambda:us-west-2:123456789012:function:f").unwrap();
        assert_eq!(
            f.arn("eu-west-1", "000000000000"),
            "arn:aws:lambda:us-west-2:123456789012:function:f"
        );
    }
}
