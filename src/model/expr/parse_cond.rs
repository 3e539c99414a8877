//! The grammar of condition expressions (Condition, Filter, KeyCondition), built
//! as a deterministic descent so that nested parentheses cost linear time:
//!
//! ```text
//! or      := and (OR and)*
//! and     := not (AND not)*
//! not     := NOT not | primary
//! primary := '(' or ')' [path-tail] [rest] | operand rest
//! rest    := cmp operand' | BETWEEN operand' AND operand' | IN '(' operand' (',' operand')* ')'
//! operand':= '(' operand' ')' [path-tail] | operand      operand := :v | f(operand', ...) | path
//! ```
//!
//! A parenthesized group whose content turns out to be a bare operand is an operand
//! (`(a) = b`); a bare operand used as a condition is a syntax error unless it is a
//! function call (`attribute_exists(a)`; `size(a)` alone is rejected later, as AWS
//! does). `((x))` sets the redundant-parentheses flag.

use super::parser::{PResult, Parser, RawOperand, RawPath};

/// The keywords that cannot be attribute or function names here.
pub(crate) const KEYWORDS: [&str; 5] = ["BETWEEN", "IN", "AND", "OR", "NOT"];

/// A condition as written.
#[derive(Debug)]
pub(crate) enum RawCond {
    /// Left operand, operator token index, right operand.
    Compare(RawOperand, usize, RawOperand),
    Between(RawOperand, RawOperand, RawOperand),
    In(RawOperand, Vec<RawOperand>),
    /// A function call used as a condition.
    Func(RawOperand),
    And(Box<RawCond>, Box<RawCond>),
    Or(Box<RawCond>, Box<RawCond>),
    Not(Box<RawCond>),
    Paren(Box<RawCond>),
    /// An operand not followed by an operator: only valid inside parentheses that
    /// turn out to wrap an operand, or as a function call condition.
    Bare(RawOperand),
}

/// Parses a whole condition expression.
pub(crate) fn parse(p: &mut Parser<'_>) -> PResult<RawCond> {
    let c = or(p)?;
    let c = as_cond(c)?;
    p.expect_eof()?;
    Ok(c)
}

fn or(p: &mut Parser<'_>) -> PResult<RawCond> {
    let mut left = and(p)?;
    while p.keyword("OR") {
        left = as_cond(left)?;
        let right = and(p)?;
        left = RawCond::Or(Box::new(left), Box::new(as_cond(right)?));
    }
    Ok(left)
}

fn and(p: &mut Parser<'_>) -> PResult<RawCond> {
    let mut left = not(p)?;
    while p.keyword("AND") {
        left = as_cond(left)?;
        let right = not(p)?;
        left = RawCond::And(Box::new(left), Box::new(as_cond(right)?));
    }
    Ok(left)
}

fn not(p: &mut Parser<'_>) -> PResult<RawCond> {
    if p.keyword("NOT") {
        p.enter()?;
        let inner = not(p)?;
        p.depth -= 1;
        return Ok(RawCond::Not(Box::new(as_cond(inner)?)));
    }
    primary(p)
}

/// Turns a bare operand into a condition: a function call is one, anything else
/// is a syntax error at the furthest point reached.
fn as_cond(c: RawCond) -> PResult<RawCond> {
    match c {
        RawCond::Bare(op) if matches!(op.unwrap_parens(), RawOperand::Call(..)) => {
            Ok(RawCond::Func(op))
        }
        RawCond::Bare(_) => Err(super::parser::Fail),
        other => Ok(other),
    }
}

fn primary(p: &mut Parser<'_>) -> PResult<RawCond> {
    if !p.punct("(") {
        let op = p.operand(&KEYWORDS, operand_parens)?;
        return rest(p, op);
    }
    p.enter()?;
    let inner = or(p)?;
    p.expect(")")?;
    p.depth -= 1;
    match inner {
        RawCond::Bare(op) => {
            if matches!(op, RawOperand::Paren(_)) {
                p.redundant = true;
            }
            let op = tail(p, RawOperand::Paren(Box::new(op)))?;
            rest(p, op)
        }
        RawCond::Paren(_) => {
            p.redundant = true;
            Ok(RawCond::Paren(Box::new(inner)))
        }
        other => Ok(RawCond::Paren(Box::new(other))),
    }
}

/// What may follow an operand in condition position.
fn rest(p: &mut Parser<'_>, left: RawOperand) -> PResult<RawCond> {
    if let Some(op) = comparator(p) {
        p.ops += 1;
        let right = operand_parens(p)?;
        return Ok(RawCond::Compare(left, op, right));
    }
    if p.keyword("BETWEEN") {
        p.ops += 1;
        let low = operand_parens(p)?;
        if !p.keyword("AND") {
            return Err(super::parser::Fail);
        }
        let high = operand_parens(p)?;
        return Ok(RawCond::Between(left, low, high));
    }
    if p.keyword("IN") {
        p.ops += 1;
        p.expect("(")?;
        let mut list = vec![operand_parens(p)?];
        while p.punct(",") {
            list.push(operand_parens(p)?);
        }
        p.expect(")")?;
        return Ok(RawCond::In(left, list));
    }
    Ok(RawCond::Bare(left))
}

/// The comparison operator at the cursor, consumed, as a token index.
fn comparator(p: &mut Parser<'_>) -> Option<usize> {
    for sym in ["<>", "<=", ">=", "=", "<", ">"] {
        if p.punct(sym) {
            return Some(p.pos - 1);
        }
    }
    None
}

/// An operand that may be parenthesized (function arguments, right-hand sides).
pub(crate) fn operand_parens(p: &mut Parser<'_>) -> PResult<RawOperand> {
    if !p.punct("(") {
        return p.operand(&KEYWORDS, operand_parens);
    }
    p.enter()?;
    let inner = operand_parens(p)?;
    p.expect(")")?;
    p.depth -= 1;
    if matches!(inner, RawOperand::Paren(_)) {
        p.redundant = true;
    }
    tail(p, RawOperand::Paren(Box::new(inner)))
}

/// A parenthesized path may continue with more steps: `(a.b).c` is `a.b.c`.
fn tail(p: &mut Parser<'_>, op: RawOperand) -> PResult<RawOperand> {
    let RawOperand::Path(path) = op.unwrap_parens() else {
        return Ok(op);
    };
    let mut path: RawPath = path.clone();
    let before = path.0.len();
    p.path_tail(&mut path, &KEYWORDS)?;
    if path.0.len() == before {
        return Ok(op);
    }
    Ok(RawOperand::Path(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> (RawCond, bool, usize) {
        let mut p = Parser::new(src);
        let c = parse(&mut p).unwrap_or_else(|_| panic!("{src}: {}", p.error()));
        (c, p.redundant, p.ops)
    }

    fn err(src: &str) -> String {
        let mut p = Parser::new(src);
        assert!(parse(&mut p).is_err(), "{src} parsed");
        p.error()
    }

    #[test]
    fn accepts_the_grammar() {
        for src in [
            "a = b",
            "a.b[1].#c <> :v",
            "(a) = b",
            "(a.b).c = :v",
            "a BETWEEN :x AND :y AND b < c",
            "a IN (:x, b, (c))",
            "attribute_exists (a)",
            "NOT NOT a < b",
            "(a < b OR b < a) AND (b < c AND (a < b OR b < c))",
            "size(a) > :n",
            "(attribute_exists(a)) = b",
            "size(a)",
        ] {
            let (_, redundant, _) = ok(src);
            assert!(!redundant, "{src}");
        }
        assert_eq!(ok("a < b AND f(g(x)) AND c IN (d)").2, 4);
    }

    #[test]
    fn flags_redundant_parentheses() {
        for src in [
            "((a = b))",
            "a=a and a > ((views))",
            "(a)between(((b.c)).d)and(c)",
            "a > whatever((:things), ((a)))",
            "a=a AND ((a=a AND a=a)) AND a=a",
            "a=a OR ((a=a OR (a=a OR a=a)))",
            "((attribute_not_exists(pk)))",
        ] {
            assert!(ok(src).1, "{src}");
        }
        assert!(!ok("((a=a) OR (a=a))").1);
    }

    #[test]
    fn syntax_errors_name_the_furthest_token() {
        assert_eq!(err("a"), r#"Syntax error; token: "<EOF>", near: "a""#);
        assert_eq!(
            err("things are not gonna be ok"),
            r#"Syntax error; token: "are", near: "things are not""#
        );
        assert_eq!(err("a > 4"), r#"Syntax error; token: "4", near: "> 4""#);
        assert_eq!(err("a in b"), r#"Syntax error; token: "b", near: "in b""#);
        assert_eq!(err("a in (b,c,)"), r#"Syntax error; token: ")", near: ",)""#);
        assert_eq!(err("a > between"), r#"Syntax error; token: "between", near: "> between""#);
        assert_eq!(err("size(a).b > a"), r#"Syntax error; token: ".", near: ").b""#);
        assert_eq!(err("(size(a))[0] > a"), r#"Syntax error; token: "[", near: ")[0""#);
        assert_eq!(err("ü > a"), r#"Syntax error; token: "ü", near: "ü >""#);
        assert_eq!(err("b[:a] > a"), r#"Syntax error; token: ":a", near: "[:a]""#);
        assert_eq!(err("a OR b = c"), r#"Syntax error; token: "OR", near: "a OR b""#);
        assert_eq!(err("(a = b"), r#"Syntax error; token: "<EOF>", near: "b""#);
        assert_eq!(err("a = b c"), r#"Syntax error; token: "c", near: "b c""#);
        assert_eq!(err("a IN ()"), r#"Syntax error; token: ")", near: "()""#);
        for src in [
            "attribute_exists(Pictures-RearView)",
            "attribute_exists(\"Pictures.RearView\")",
            "attribute_exists(Pictures..RearView)",
            "attribute_exists(Pi#ctures.RearView)",
            "attribute_exists(asdf[a])",
            "a in b, c",
            "(a)between(b.(c.d))and(c)",
            "(a)between(b.c.d)and((c)",
            "#$.b > a",
            "a > :things.stuff",
            "b[#_] > a",
            "(a)between(b.c[4.5].#d)and(:a)",
            "(size(a)).b > a",
            "size(a)[0] > a",
            "_a = b",
            ":a",
            "(a)",
            "NOT a",
        ] {
            err(src);
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let src = format!("{}a = b{}", "(".repeat(2000), ")".repeat(2000));
        err(&src);
        let src = format!("{}a = b", "NOT ".repeat(1000));
        err(&src);
    }
}
