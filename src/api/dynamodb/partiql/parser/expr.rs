//! Conditions and values: the WHERE clause's predicates (comparisons, functions, IS
//! tests, AND/OR/NOT), operands, literals and parameters, read for the statements in
//! `parser`.

use super::super::lexer::Token;
use super::{Expr, IS_TYPE, Operand, Parser, Path, Value, describe};
use crate::model::number::Number;

/// Type names `IS` tests that DynamoDB has an attribute type for, with that type.
const TYPES: [(&str, &str); 7] = [
    ("BOOL", "BOOL"),
    ("BOOLEAN", "BOOL"),
    ("STRING", "S"),
    ("LIST", "L"),
    ("STRUCT", "M"),
    ("TUPLE", "M"),
    ("BLOB", "B"),
];

/// PartiQL's other type names: they parse, and are refused as [`IS_TYPE`]. DOUBLE
/// PRECISION and CHARACTER VARYING are two words.
const OTHER_TYPES: [&str; 20] = [
    "INT",
    "INT2",
    "INT4",
    "INT8",
    "INTEGER",
    "SMALLINT",
    "FLOAT",
    "REAL",
    "DOUBLE",
    "DECIMAL",
    "DEC",
    "NUMERIC",
    "CHAR",
    "CHARACTER",
    "VARCHAR",
    "TIMESTAMP",
    "SYMBOL",
    "CLOB",
    "SEXP",
    "BAG",
];

impl Parser {
    pub(super) fn expr(&mut self) -> Result<Expr, String> {
        self.nested(|p| {
            let mut left = p.and()?;
            while p.eat_word("OR") {
                p.right_side()?;
                left = Expr::Or(Box::new(left), Box::new(p.and()?));
            }
            Ok(left)
        })
    }

    pub(super) fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.not()?;
        while self.eat_word("AND") {
            self.right_side()?;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    pub(super) fn not(&mut self) -> Result<Expr, String> {
        if self.eat_word("NOT") {
            return self.nested(|p| Ok(Expr::Not(Box::new(p.not()?))));
        }
        self.predicate()
    }

    pub(super) fn predicate(&mut self) -> Result<Expr, String> {
        self.term_start()?;
        if self.eat("(") {
            let inner = self.expr()?;
            self.punct(")")?;
            return Ok(inner);
        }
        const FUNCTIONS: [(&str, usize); 5] = [
            ("begins_with", 2),
            ("contains", 2),
            ("attribute_exists", 1),
            ("attribute_not_exists", 1),
            ("attribute_type", 2),
        ];
        let called = FUNCTIONS.iter().find(|(f, _)| self.is_word(f));
        if called.is_none() && self.at_call() && !self.is_word("size") {
            // A function DynamoDB's PartiQL does not have here (set_add in a WHERE,
            // EXISTS(path)): read, and refused with where it sits.
            let Some(Token::Word(name)) = self.peek().cloned() else { unreachable!() };
            self.defer(format!(
                "Unrecognized function: {} at {}",
                name.to_ascii_lowercase(),
                self.pos(self.at)
            ));
            self.call_args()?;
            for op in ["=", "<>", "!=", "<=", ">=", "<", ">"] {
                if self.eat(op) {
                    self.operand()?;
                    break;
                }
            }
            return Ok(Expr::Function("attribute_exists", Vec::new()));
        }
        if let Some(&(function, arity)) = called
            && self.at_call()
        {
            let args = self.call_args()?;
            if args.len() != arity {
                // The condition expression's message (AWS, nubo-db/dynamodb-conformance
                // error-messages/partiqlFunctions).
                self.defer(format!(
                    "Incorrect number of operands for operator or function; operator or function: {function}, number of operands: {}",
                    args.len()
                ));
            }
            let test = Expr::Function(function, args);
            // `f(...) = true` (or `<> false`) is the test itself; `= false` its negation.
            for (op, negate) in [("=", false), ("<>", true), ("!=", true)] {
                let truth = |p: &Self, w| matches!(p.tokens.get(p.at + 1), Some(Token::Word(x)) if x.eq_ignore_ascii_case(w));
                let is = |p: &Self| matches!(p.peek(), Some(Token::Punct(x)) if *x == op);
                if is(self) && (truth(self, "TRUE") || truth(self, "FALSE")) {
                    let holds = truth(self, "TRUE") != negate;
                    self.at += 2;
                    return Ok(if holds { test } else { Expr::Not(Box::new(test)) });
                }
            }
            return Ok(test);
        }
        let left = self.operand()?;
        for op in ["=", "<>", "!=", "<=", ">=", "<", ">"] {
            if self.eat(op) {
                let op = if op == "!=" { "<>" } else { op };
                self.right_side()?;
                self.term_start()?;
                return Ok(Expr::Compare(left, op, self.operand()?));
            }
        }
        if self.eat_word("BETWEEN") {
            let low = self.operand()?;
            self.word("AND")?;
            return Ok(Expr::Between(left, low, self.operand()?));
        }
        if self.eat_word("IN") {
            let close = if self.eat("(") {
                ")"
            } else {
                self.punct("[")?;
                "]"
            };
            let mut list = Vec::new();
            loop {
                list.push(self.operand()?);
                if !self.eat(",") {
                    break;
                }
            }
            self.punct(close)?;
            return Ok(Expr::In(left, list));
        }
        if self.eat_word("IS") {
            let negated = self.eat_word("NOT");
            let Operand::Path(path) = left else {
                return Err("IS needs an attribute path on its left".into());
            };
            if self.eat_word("MISSING") {
                return Ok(Expr::Missing(path, !negated));
            }
            if self.eat_word("NULL") {
                return Ok(Expr::Null(path, !negated));
            }
            return self.type_test(path, negated);
        }
        Err(self.expected("a comparison"))
    }

    /// `path IS [NOT] <type>`: DynamoDB's attribute types as `attribute_type`; PartiQL's
    /// other type names read, and are refused.
    pub(super) fn type_test(&mut self, path: Path, negated: bool) -> Result<Expr, String> {
        if let Some(&(_, ty)) = TYPES.iter().find(|(name, _)| self.is_word(name)) {
            self.at += 1;
            let test = Expr::Function(
                "attribute_type",
                vec![Operand::Path(path), Operand::Value(Value::Str(ty.into()))],
            );
            return Ok(if negated { Expr::Not(Box::new(test)) } else { test });
        }
        if self.is_any(&OTHER_TYPES) {
            let two_words = self.is_word("DOUBLE") || self.is_word("CHARACTER");
            self.at += 1;
            if two_words {
                // DOUBLE PRECISION, CHARACTER VARYING (CHARACTER alone is a type too).
                let _ = self.eat_word("PRECISION") || self.eat_word("VARYING");
            }
            self.defer(IS_TYPE);
            return Ok(Expr::Missing(path, negated));
        }
        Err("Expected type name".into())
    }

    pub(super) fn operand(&mut self) -> Result<Operand, String> {
        if self.is_word("size") && matches!(self.tokens.get(self.at + 1), Some(Token::Punct("("))) {
            self.at += 2;
            let path = self.path()?;
            self.punct(")")?;
            return Ok(Operand::Size(path));
        }
        let literal = matches!(
            self.peek(),
            Some(Token::Str(_) | Token::Num(_) | Token::Param | Token::Punct("[" | "{" | "<<"))
        ) || ["TRUE", "FALSE", "NULL"].iter().any(|w| self.is_word(w));
        if literal {
            return Ok(Operand::Value(self.value()?));
        }
        Ok(Operand::Path(self.path()?))
    }

    pub(super) fn value(&mut self) -> Result<Value, String> {
        self.nested(Self::value_here)
    }

    pub(super) fn value_here(&mut self) -> Result<Value, String> {
        match self.next()? {
            Token::Str(s) => Ok(Value::Str(s)),
            Token::Num(n) => {
                // DynamoDB's range, checked where the literal is read: AWS names where
                // in the value it sits ("under root.x").
                if let Err(e) = Number::parse(&n) {
                    let at: String = self.literal.concat();
                    self.defer(format!("{e} under root{at}"));
                }
                Ok(Value::Num(n))
            }
            Token::Param => {
                self.params += 1;
                Ok(Value::Param(self.params - 1))
            }
            Token::Word(w) if w.eq_ignore_ascii_case("TRUE") => Ok(Value::Bool(true)),
            Token::Word(w) if w.eq_ignore_ascii_case("FALSE") => Ok(Value::Bool(false)),
            Token::Word(w) if w.eq_ignore_ascii_case("NULL") => Ok(Value::Null),
            Token::Word(w) if matches!(self.peek(), Some(Token::Punct("("))) => {
                // A call where a value should be (set_add in an INSERT).
                let at: String = self.literal.concat();
                let pos = self.pos(self.at - 1);
                self.defer(format!(
                    "Unsupported data type: {} under key root{at} at {pos}",
                    w.to_ascii_lowercase()
                ));
                self.at += 1;
                self.values(")")?;
                Ok(Value::Null)
            }
            Token::Punct("[") => Ok(Value::List(self.values("]")?)),
            Token::Punct("<<") => Ok(Value::Bag(self.values(">>")?)),
            Token::Punct("{") => {
                let item = std::mem::take(&mut self.item);
                let mut entries = Vec::new();
                if !self.eat("}") {
                    loop {
                        let key = match self.next()? {
                            Token::Str(k) | Token::Quoted(k) => k,
                            t => {
                                return Err(format!(
                                    "Expected a quoted key, found {}",
                                    describe(&t)
                                ));
                            }
                        };
                        self.punct(":")?;
                        // An INSERT's item is no value: each attribute's value is a root.
                        let segment = if item { String::new() } else { format!(".{key}") };
                        self.literal.push(segment);
                        let value = self.value();
                        self.literal.pop();
                        entries.push((key, value?));
                        if !self.eat(",") {
                            break;
                        }
                    }
                    self.punct("}")?;
                }
                Ok(Value::Map(entries))
            }
            t => Err(format!("Expected a value, found {}", describe(&t))),
        }
    }

    pub(super) fn values(&mut self, close: &'static str) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        if self.eat(close) {
            return Ok(out);
        }
        loop {
            self.literal.push(format!("[{}]", out.len()));
            let value = self.value();
            self.literal.pop();
            out.push(value?);
            if !self.eat(",") {
                break;
            }
        }
        self.punct(close)?;
        Ok(out)
    }
}
