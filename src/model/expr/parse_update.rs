//! The grammar of UpdateExpression:
//!
//! ```text
//! update  := section+          section := SET set (',' set)* | REMOVE path (',' path)*
//!                                       | ADD path :v (',' path :v)* | DELETE path :v (...)*
//! set     := path '=' value
//! value   := '(' inner ')' [('+'|'-') operand'] | inner
//! inner   := operand' [('+'|'-') operand']
//! operand':= '(' operand ')' | operand      operand := :v | f(operand', ...) | path
//! ```
//!
//! Keywords are case-insensitive; a clause may appear once (checked later, as AWS
//! reports it after other errors). Paths here cannot be parenthesized, and `+`/`-`
//! only join two operands at the top of a SET value (`if_not_exists(a, :x + :y)`
//! and `a + b + c` are syntax errors, as in AWS).

use super::lexer::Kind;
use super::parser::{PResult, Parser, RawOperand, RawPath};

/// The clause keywords, which cannot be attribute or function names here.
pub(crate) const KEYWORDS: [&str; 4] = ["SET", "REMOVE", "ADD", "DELETE"];

/// A SET right-hand side as written.
#[derive(Debug)]
pub(crate) enum RawSetValue {
    Single(RawOperand),
    /// Left, operator token index, right.
    Arith(RawOperand, usize, RawOperand),
}

/// One action as written.
#[derive(Debug)]
pub(crate) enum RawAction {
    Set(RawPath, RawSetValue),
    Remove(RawPath),
    /// Path and `:value` token index.
    Add(RawPath, usize),
    Delete(RawPath, usize),
}

/// A clause: its keyword (upper case) and actions.
#[derive(Debug)]
pub(crate) struct RawSection {
    /// "SET", "REMOVE", "ADD" or "DELETE".
    pub keyword: &'static str,
    /// The clause's actions, in order.
    pub actions: Vec<RawAction>,
}

/// Parses a whole UpdateExpression.
pub(crate) fn parse(p: &mut Parser<'_>) -> PResult<Vec<RawSection>> {
    let mut sections = Vec::new();
    while let Some(&keyword) = KEYWORDS.iter().find(|k| p.keyword(k)) {
        let mut actions = vec![action(p, keyword)?];
        while p.punct(",") {
            actions.push(action(p, keyword)?);
        }
        sections.push(RawSection { keyword, actions });
    }
    if sections.is_empty() {
        return Err(super::parser::Fail);
    }
    p.expect_eof()?;
    Ok(sections)
}

fn action(p: &mut Parser<'_>, keyword: &str) -> PResult<RawAction> {
    let path = p.path(&KEYWORDS)?;
    Ok(match keyword {
        "SET" => {
            p.expect("=")?;
            RawAction::Set(path, value(p)?)
        }
        "REMOVE" => RawAction::Remove(path),
        "ADD" => RawAction::Add(path, p.take(Kind::Value)?),
        _ => RawAction::Delete(path, p.take(Kind::Value)?),
    })
}

fn value(p: &mut Parser<'_>) -> PResult<RawSetValue> {
    if !p.punct("(") {
        return inner(p);
    }
    p.enter()?;
    let v = inner(p)?;
    p.expect(")")?;
    p.depth -= 1;
    match v {
        RawSetValue::Single(op) => arith(p, RawOperand::Paren(Box::new(op))),
        whole => Ok(whole),
    }
}

fn inner(p: &mut Parser<'_>) -> PResult<RawSetValue> {
    let left = operand_parens(p)?;
    arith(p, left)
}

fn arith(p: &mut Parser<'_>, left: RawOperand) -> PResult<RawSetValue> {
    if p.punct("+") || p.punct("-") {
        p.ops += 1;
        let op = p.pos - 1;
        return Ok(RawSetValue::Arith(left, op, operand_parens(p)?));
    }
    Ok(RawSetValue::Single(left))
}

fn operand_parens(p: &mut Parser<'_>) -> PResult<RawOperand> {
    if !p.punct("(") {
        return p.operand(&KEYWORDS, operand_parens);
    }
    p.enter()?;
    let op = p.operand(&KEYWORDS, operand_parens)?;
    p.expect(")")?;
    p.depth -= 1;
    Ok(RawOperand::Paren(Box::new(op)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Vec<RawSection> {
        let mut p = Parser::new(src);
        parse(&mut p).unwrap_or_else(|_| panic!("{src}: {}", p.error()))
    }

    fn err(src: &str) -> String {
        let mut p = Parser::new(src);
        assert!(parse(&mut p).is_err(), "{src} parsed");
        p.error()
    }

    #[test]
    fn accepts_the_grammar() {
        for src in [
            "SET a = :v",
            "set b.c=((c[1])+(b.a)),b.a = a,c[1] = a, c[4] = b.a - b.b, c[2] = b.c add c[8] :b, c[6] :a",
            "REMOVE a, b[1].c SET d = if_not_exists(d, :v) + :w",
            "ADD #e :e,#d :d DELETE #c :c REMOVE #b SET #f = :f",
            "SET a = (b + c)",
            "SET a = ((b))",
            "SET a = (b) + c",
            "SET a = list_append(if_not_exists(a, :e), :v)",
            "  set   b=:val1  ",
            "SET a = :v SET b = :w",
        ] {
            ok(src);
        }
        assert_eq!(ok("SET a = :v REMOVE b").len(), 2);
    }

    #[test]
    fn syntax_errors_name_the_furthest_token() {
        assert_eq!(
            err("INVALID SYNTAX HERE"),
            r#"Syntax error; token: "INVALID", near: "INVALID SYNTAX""#
        );
        assert_eq!(err("SET #a = :a, #b = :b,"), r#"Syntax error; token: "<EOF>", near: ",""#);
        assert_eq!(err("SET _123 = :val1"), r#"Syntax error; token: "_", near: "SET _123""#);
        assert_eq!(err("set a = b / c"), r#"Syntax error; token: "/", near: "b / c""#);
        assert_eq!(err("SET a = b + c + d"), r#"Syntax error; token: "+", near: "c + d""#);
        assert_eq!(err("SET"), r#"Syntax error; token: "<EOF>", near: "SET""#);
        for src in [
            "whatever",
            "set a",
            "add a",
            "delete a",
            "set a=set",
            "remove a = b",
            "add a = b",
            "delete a = b",
            "delete a b",
            "delete a if_not_exist(b)",
            "add abort b",
            "remove a b",
            "set a b",
            "set :a = b",
            "add :a b",
            "remove :a",
            "set a = b * c",
            "set a[1] = \"eight\"",
            "set a[1] = 1",
            "SET if_not_exist(a, b) = a",
            "set (a = (b + c))",
            "set a = (b.c).d + e",
            "set a = (b.c)[0] + e",
            "SET c = if_not_exists(c, :val1+:val2)",
            "SET a[:xyz] = :v",
            "SET a[#xyz] = :v",
            "SET # = :v",
            "SET a = :",
            "SET a = _f(b)",
            "SET a = (((b)))",
        ] {
            err(src);
        }
    }
}
