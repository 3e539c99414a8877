//! Semantic checks of a parsed condition, and its resolution into a [`Condition`].
//!
//! AWS reports one error per expression, by class, in this order (dynalite
//! db/conditionParser.pegjs `checkErrors`, AWS-recorded in its test/scan.js):
//! redundant parentheses, unknown function, misused function, reserved word, then
//! the first *leaf* (comparison, BETWEEN, IN or function condition, in the order
//! written) that has an error: within a leaf, an undefined name/value, then a wrong
//! operand count, then non-distinct operands, then a function/operand-type error.
//! The leaf rule is also recorded by nubo-db's conformance suite (Query key
//! conditions, October 2026). Each class keeps the first error met, visiting the
//! tree in the order the parser completes it (arguments before their function).

use crate::model::{AttributeValue, Error};

use super::ast::{AttrType, Comparator, Condition, Operand};
use super::messages;
use super::names::ExprContext;
use super::parse_cond::RawCond;
use super::parser::{Parser, RawOperand};
use super::paths::Path;

/// Most operands an IN accepts, counting the one before IN (Scylla's
/// test_condition_expression.py, run against AWS: 99 listed values work).
pub(crate) const MAX_IN_OPERANDS: usize = 100;

/// What the checks need to know about an operand besides its value.
#[derive(Debug, Clone, Copy)]
enum Info<'s> {
    Path,
    /// A `:value`, with its type when it is defined.
    Value(Option<&'static str>),
    /// A function call: name, and the type it yields when known.
    Call(&'s str, Option<&'static str>),
}

struct Checked<'s> {
    op: Operand,
    info: Info<'s>,
}

impl Checked<'_> {
    /// The type as far as the parse tells (dynalite `getType`): values and the
    /// results of functions, not paths.
    fn known_type(&self) -> Option<&'static str> {
        match self.info {
            Info::Value(t) | Info::Call(_, t) => t,
            Info::Path => None,
        }
    }

    fn path(&self) -> Option<&Path> {
        match (&self.info, &self.op) {
            (Info::Path, Operand::Path(p)) => Some(p),
            _ => None,
        }
    }
}

#[derive(Default)]
struct Leaf {
    name_val: Option<String>,
    operand: Option<String>,
    distinct: Option<String>,
    function: Option<String>,
}

/// Walks a parsed condition, collecting AWS's error classes and building the AST.
pub(crate) struct Checker<'p, 's, 'c> {
    p: &'p Parser<'s>,
    ctx: &'p mut ExprContext<'c>,
    unknown_fn: Option<String>,
    misused_fn: Option<String>,
    reserved: Option<String>,
    condition: Option<String>,
    leaf: Leaf,
}

/// Checks and resolves `raw`; the error is AWS's message without the
/// "Invalid ...Expression: " prefix.
pub(crate) fn check(
    p: &Parser<'_>,
    ctx: &mut ExprContext<'_>,
    raw: &RawCond,
) -> Result<Condition, Error> {
    let mut c = Checker {
        p,
        ctx,
        unknown_fn: None,
        misused_fn: None,
        reserved: None,
        condition: None,
        leaf: Leaf::default(),
    };
    let cond = c.cond(raw);
    let first = [c.unknown_fn, c.misused_fn, c.reserved, c.condition].into_iter().flatten().next();
    let first = if p.redundant {
        Some("The expression has redundant parentheses;".to_owned())
    } else {
        first
    };
    match first {
        Some(msg) => Err(Error::validation(msg)),
        None => Ok(cond),
    }
}

/// Stands in for a part whose error is already recorded.
fn placeholder() -> Condition {
    Condition::AttributeExists(Path::attr(""))
}

impl<'s> Checker<'_, 's, '_> {
    fn cond(&mut self, raw: &RawCond) -> Condition {
        match raw {
            RawCond::And(a, b) => Condition::and(self.cond(a), self.cond(b)),
            RawCond::Or(a, b) => Condition::or(self.cond(a), self.cond(b)),
            RawCond::Not(a) => Condition::negate(self.cond(a)),
            RawCond::Paren(a) => self.cond(a),
            RawCond::Compare(l, tok, r) => {
                let (l, r) = (self.operand(l), self.operand(r));
                let sym = self.p.text(*tok);
                self.misused(&[&l, &r]);
                self.distinct(sym, &[&l, &r]);
                let cmp = Comparator::from_symbol(sym).unwrap_or(Comparator::Eq);
                if cmp.is_ordering() {
                    self.orderable(sym, &[&l, &r]);
                }
                self.end_leaf();
                Condition::Compare(l.op, cmp, r.op)
            }
            RawCond::Between(x, lo, hi) => {
                let (x, lo, hi) = (self.operand(x), self.operand(lo), self.operand(hi));
                self.misused(&[&x, &lo, &hi]);
                self.orderable("BETWEEN", &[&x, &lo, &hi]);
                self.between_bounds(&lo, &hi);
                self.end_leaf();
                Condition::Between(x.op, lo.op, hi.op)
            }
            RawCond::In(x, list) => {
                let x = self.operand(x);
                let list: Vec<Checked<'s>> = list.iter().map(|o| self.operand(o)).collect();
                let all: Vec<&Checked<'s>> = std::iter::once(&x).chain(&list).collect();
                self.misused(&all);
                if all.len() > MAX_IN_OPERANDS {
                    self.leaf.function.get_or_insert_with(|| {
                        format!(
                            "The IN operator is provided with too many operands; number of operands: {}",
                            all.len()
                        )
                    });
                }
                self.end_leaf();
                Condition::In(x.op, list.into_iter().map(|c| c.op).collect())
            }
            RawCond::Func(call) => {
                let cond = self.function_condition(call);
                self.end_leaf();
                cond
            }
            RawCond::Bare(_) => placeholder(),
        }
    }

    /// A function call used as a condition.
    fn function_condition(&mut self, raw: &RawOperand) -> Condition {
        let RawOperand::Call(name_tok, raw_args) = raw.unwrap_parens() else {
            return placeholder();
        };
        let name = self.p.text(*name_tok);
        let (args, _) = self.call(name, raw_args);
        if matches!(name, "size" | "if_not_exists" | "list_append") {
            // Not a test: size() is only an operand, the others belong to updates.
            self.misused_fn.get_or_insert_with(|| messages::misused_function(name));
        }
        let mut args = args.into_iter();
        match (name, args.next(), args.next(), args.next()) {
            ("attribute_exists", Some(a), None, None) => {
                a.path().cloned().map_or_else(placeholder, Condition::AttributeExists)
            }
            ("attribute_not_exists", Some(a), None, None) => {
                a.path().cloned().map_or_else(placeholder, Condition::AttributeNotExists)
            }
            ("begins_with", Some(a), Some(b), None) => Condition::BeginsWith(a.op, b.op),
            ("contains", Some(a), Some(b), None) => Condition::Contains(a.op, b.op),
            (
                "attribute_type",
                Some(a),
                Some(Checked { op: Operand::Value(AttributeValue::S(t)), .. }),
                None,
            ) => AttrType::from_name(&t)
                .map_or_else(placeholder, |t| Condition::AttributeType(a.op, t)),
            _ => placeholder(),
        }
    }

    fn operand(&mut self, raw: &RawOperand) -> Checked<'s> {
        match raw {
            RawOperand::Paren(inner) => self.operand(inner),
            RawOperand::Path(path) => {
                let path = self.ctx.resolve_path(
                    self.p,
                    path,
                    &mut self.reserved,
                    &mut self.leaf.name_val,
                );
                Checked { op: Operand::Path(path), info: Info::Path }
            }
            RawOperand::Value(tok) => {
                let v = self.ctx.resolve_value(self.p, *tok, &mut self.leaf.name_val);
                let t = v.as_ref().map(AttributeValue::type_name);
                Checked {
                    op: Operand::Value(v.unwrap_or(AttributeValue::Null)),
                    info: Info::Value(t),
                }
            }
            RawOperand::Call(name_tok, raw_args) => {
                let name = self.p.text(*name_tok);
                let (mut args, ty) = self.call(name, raw_args);
                let op = match (name, args.len()) {
                    ("size", 1) => Operand::Size(Box::new(args.remove(0).op)),
                    _ => Operand::Value(AttributeValue::Null),
                };
                Checked { op, info: Info::Call(name, ty) }
            }
        }
    }

    /// Arguments first, then the function's own checks (dynalite `checkFunction`).
    fn call(
        &mut self,
        name: &'s str,
        raw_args: &[RawOperand],
    ) -> (Vec<Checked<'s>>, Option<&'static str>) {
        let args: Vec<Checked<'s>> = raw_args.iter().map(|a| self.operand(a)).collect();
        self.misused(&args.iter().collect::<Vec<_>>());
        let ty = self.check_function(name, &args);
        (args, ty)
    }

    fn check_function(&mut self, name: &str, args: &[Checked<'s>]) -> Option<&'static str> {
        let wanted = match name {
            "attribute_exists" | "attribute_not_exists" | "size" => 1,
            "attribute_type" | "begins_with" | "contains" => 2,
            // Update functions are known here; using them is "not allowed" (Scylla's
            // test_update_condition_other_funcs, run against AWS).
            "if_not_exists" | "list_append" => return None,
            _ => {
                self.unknown_fn.get_or_insert_with(|| messages::unknown_function(name));
                return None;
            }
        };
        if self.leaf.operand.is_some() {
            return None;
        }
        if args.len() != wanted {
            self.leaf.operand = Some(messages::operand_count(name, args.len()));
            return None;
        }
        self.distinct(name, &args.iter().collect::<Vec<_>>());
        if self.leaf.function.is_some() {
            return None;
        }
        let bad_type = |t: &str| messages::operand_type(name, t);
        let err = match name {
            "attribute_exists" | "attribute_not_exists" if args[0].path().is_none() => {
                Some(messages::requires_path(name))
            }
            "attribute_exists" | "attribute_not_exists" => return None,
            "begins_with" => args
                .iter()
                .filter_map(Checked::known_type)
                .find(|t| !matches!(*t, "S" | "B"))
                .map(bad_type),
            "attribute_type" => match (&args[1].op, args[1].known_type()) {
                (Operand::Value(AttributeValue::S(s)), Some("S"))
                    if AttrType::from_name(s).is_none() =>
                {
                    Some(format!(
                        "Invalid attribute type name found; type: {s}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
                    ))
                }
                (_, Some("S")) => None,
                (_, Some(t)) => Some(bad_type(t)),
                (_, None) => Some(bad_type("{NS,SS,L,BS,N,M,B,BOOL,NULL,S}")),
            },
            "size" => {
                args[0].known_type().filter(|t| matches!(*t, "N" | "BOOL" | "NULL")).map(bad_type)
            }
            _ => None,
        };
        if err.is_some() {
            self.leaf.function = err;
            return None;
        }
        Some(if name == "size" { "N" } else { "BOOL" })
    }

    /// A function call as an operand of an operator or function is refused, except
    /// size() (dynalite `checkMisusedFunction`).
    fn misused(&mut self, args: &[&Checked<'s>]) {
        if let Some(name) = args.iter().find_map(|a| match a.info {
            Info::Call(name, _) if name != "size" => Some(name),
            _ => None,
        }) {
            self.misused_fn.get_or_insert_with(|| messages::misused_function(name));
        }
    }

    /// Two identical paths as the operands of a two-operand test are refused.
    fn distinct(&mut self, name: &str, args: &[&Checked<'s>]) {
        if let [a, b] = args
            && let (Some(pa), Some(pb)) = (a.path(), b.path())
            && pa == pb
        {
            self.leaf.distinct.get_or_insert_with(|| {
                format!(
                    "The first operand must be distinct from the remaining operands for this operator \
                     or function; operator: {name}, first operand: {}",
                    pa.aws_string()
                )
            });
        }
    }

    /// Ordering tests only apply to N, S and B: a constant of another type is an
    /// error (recorded from AWS: "operator or function: <, operand type: BOOL").
    fn orderable(&mut self, sym: &str, args: &[&Checked<'s>]) {
        for a in args {
            if let Info::Value(Some(t)) = a.info
                && !matches!(t, "N" | "S" | "B")
            {
                self.leaf.function.get_or_insert_with(|| messages::operand_type(sym, t));
            }
        }
    }

    /// Constant BETWEEN bounds must share a type and be in order (dynalite
    /// `checkBetweenArgs`, AWS-recorded in its test/query.js).
    fn between_bounds(&mut self, lo: &Checked<'s>, hi: &Checked<'s>) {
        let (Operand::Value(a), Operand::Value(b)) = (&lo.op, &hi.op) else {
            return;
        };
        if !matches!((lo.info, hi.info), (Info::Value(Some(_)), Info::Value(Some(_)))) {
            return;
        }
        let show = |v: &AttributeValue| {
            format!("AttributeValue: {{{}:{}}}", v.type_name(), v.aws_display())
        };
        let detail = format!("lower bound operand: {}, upper bound operand: {}", show(a), show(b));
        let msg = if a.type_name() != b.type_name() {
            format!(
                "The BETWEEN operator requires same data type for lower and upper bounds; {detail}"
            )
        } else if super::eval::compare(a, b) == Some(std::cmp::Ordering::Greater) {
            format!(
                "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; {detail}"
            )
        } else {
            return;
        };
        self.leaf.function.get_or_insert(msg);
    }

    fn end_leaf(&mut self) {
        let leaf = std::mem::take(&mut self.leaf);
        if self.condition.is_none() {
            self.condition = leaf.name_val.or(leaf.operand).or(leaf.distinct).or(leaf.function);
        }
    }
}
