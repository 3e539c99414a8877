//! The legacy `ComparisonOperator`s: AWS's checks on their `AttributeValueList`, and
//! the condition each one becomes.
//!
//! Semantics (DynamoDB Local's `LocalDBComparisonOperator.evaluate`, and the
//! rewriting Amazon's DAX client does, `_construct_filter_or_expected_comp_op_expr`)
//! line up with the expression language except in two places, both expressible:
//!
//! * `NE` is true for a missing attribute (DynamoDB Local: `!EQ.evaluate(..)`);
//!   the expression `a <> :v` is too (see `expr::eval`), so NE becomes `<>`.
//! * `NOT_CONTAINS` is false for a missing attribute (DynamoDB Local returns
//!   false for a null value; the DAX client writes `attribute_exists(a) AND NOT
//!   contains(a, :v)`), unlike `NOT contains(a, :v)`; it becomes exactly that AND.

use std::cmp::Ordering;

use crate::model::expr::{Comparator, Condition, Operand, Path};
use crate::model::{AttributeValue, Error};

use super::invalid;

/// A legacy comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComparisonOperator {
    /// `EQ`: equal (any type).
    Eq,
    /// `NE`: not equal (any type); true when the attribute is missing.
    Ne,
    /// `LE`: at most (S, N, B).
    Le,
    /// `LT`: less than (S, N, B).
    Lt,
    /// `GE`: at least (S, N, B).
    Ge,
    /// `GT`: greater than (S, N, B).
    Gt,
    /// `NOT_NULL`: the attribute exists.
    NotNull,
    /// `NULL`: the attribute does not exist.
    Null,
    /// `CONTAINS`: substring, set member or list element.
    Contains,
    /// `NOT_CONTAINS`: the attribute exists and does not contain the value.
    NotContains,
    /// `BEGINS_WITH`: prefix of an S or B.
    BeginsWith,
    /// `IN`: equal to one of the values (S, N, B).
    In,
    /// `BETWEEN`: between two bounds, inclusive (S, N, B).
    Between,
}

/// The enum values as AWS lists them in its constraint message (dynalite
/// test/scan.js, recorded from AWS: "Member must satisfy enum value set: [IN, NULL,
/// BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]").
pub(crate) const ENUM_ORDER: [&str; 13] = [
    "IN",
    "NULL",
    "BETWEEN",
    "LT",
    "NOT_CONTAINS",
    "EQ",
    "GT",
    "NOT_NULL",
    "NE",
    "LE",
    "BEGINS_WITH",
    "GE",
    "CONTAINS",
];

impl ComparisonOperator {
    /// The operator named `s` (case-sensitive, as AWS checks it).
    pub fn from_name(s: &str) -> Option<ComparisonOperator> {
        use ComparisonOperator::*;
        Some(match s {
            "EQ" => Eq,
            "NE" => Ne,
            "LE" => Le,
            "LT" => Lt,
            "GE" => Ge,
            "GT" => Gt,
            "NOT_NULL" => NotNull,
            "NULL" => Null,
            "CONTAINS" => Contains,
            "NOT_CONTAINS" => NotContains,
            "BEGINS_WITH" => BeginsWith,
            "IN" => In,
            "BETWEEN" => Between,
            _ => return None,
        })
    }

    /// The operator's wire name, as AWS prints it in messages.
    pub fn name(self) -> &'static str {
        use ComparisonOperator::*;
        match self {
            Eq => "EQ",
            Ne => "NE",
            Le => "LE",
            Lt => "LT",
            Ge => "GE",
            Gt => "GT",
            NotNull => "NOT_NULL",
            Null => "NULL",
            Contains => "CONTAINS",
            NotContains => "NOT_CONTAINS",
            BeginsWith => "BEGINS_WITH",
            In => "IN",
            Between => "BETWEEN",
        }
    }

    /// True for the operators that take no value (`NULL`, `NOT_NULL`).
    pub fn takes_no_value(self) -> bool {
        matches!(self, ComparisonOperator::Null | ComparisonOperator::NotNull)
    }

    /// DynamoDB Local `isValidAttributeCount`: none for NULL / NOT_NULL, one or
    /// more for IN, two for BETWEEN, one otherwise (dynalite `validateConditions`
    /// agrees; its tests were recorded from AWS).
    fn valid_count(self, n: usize) -> bool {
        use ComparisonOperator::*;
        match self {
            Null | NotNull => n == 0,
            In => n >= 1,
            Between => n == 2,
            _ => n == 1,
        }
    }

    /// DynamoDB Local `isTypeSupported`: EQ / NE take any type (a BOOL EQ is
    /// accepted by AWS: nubo-db conformance legacy-api/queryFilter); the ordering
    /// operators, IN and BETWEEN take S, N, B; CONTAINS / NOT_CONTAINS also take
    /// BOOL and NULL (DAX client `_check_valid_BSNBoolNull_types`; dynalite's AWS
    /// recordings refuse SS, NS, BS, M, L only); BEGINS_WITH takes S, B.
    fn supports(self, v: &AttributeValue) -> bool {
        use AttributeValue as V;
        use ComparisonOperator::*;
        let scalar = matches!(v, V::S(_) | V::N(_) | V::B(_));
        match self {
            Eq | Ne | Null | NotNull => true,
            Le | Lt | Ge | Gt | In | Between => scalar,
            Contains | NotContains => scalar || matches!(v, V::Bool(_) | V::Null),
            BeginsWith => matches!(v, V::S(_) | V::B(_)),
        }
    }

    /// AWS's checks on the values given to the operator, in DynamoDB Local's order
    /// (`LocalDBValidatorUtils.validateArgumentsForComparisonOperator`): the count,
    /// then each value's type for the operator and against the first value's type,
    /// then BETWEEN's bounds. Messages:
    ///
    /// * "One or more parameter values were invalid: Invalid number of argument(s)
    ///   for the EQ ComparisonOperator" (dynalite test/putItem.js, test/scan.js;
    ///   recorded from AWS, and by nubo-db conformance error-messages/deleteItem).
    /// * "One or more parameter values were invalid: ComparisonOperator CONTAINS is
    ///   not valid for SS AttributeValue type" (dynalite test/scan.js, recorded).
    /// * "One or more parameter values were invalid: AttributeValues inside
    ///   AttributeValueList must be of same type" (dynalite test/query.js and
    ///   test/deleteItem.js, recorded).
    /// * "The BETWEEN condition was provided a range where the lower bound is
    ///   greater than the upper bound" (dynalite test/query.js, test/deleteItem.js).
    pub fn check_values(self, values: &[AttributeValue]) -> Result<(), Error> {
        if !self.valid_count(values.len()) {
            return Err(invalid(format!(
                "Invalid number of argument(s) for the {} ComparisonOperator",
                self.name()
            )));
        }
        let first = values.first().map(AttributeValue::type_name);
        for v in values {
            if !self.supports(v) {
                return Err(invalid(format!(
                    "ComparisonOperator {} is not valid for {} AttributeValue type",
                    self.name(),
                    v.type_name()
                )));
            }
            if Some(v.type_name()) != first {
                return Err(invalid(
                    "AttributeValues inside AttributeValueList must be of same type",
                ));
            }
        }
        if let (ComparisonOperator::Between, [lo, hi]) = (self, values)
            && order(lo, hi) == Some(Ordering::Greater)
        {
            return Err(Error::validation(
                "The BETWEEN condition was provided a range where the lower bound is greater \
                 than the upper bound",
            ));
        }
        Ok(())
    }

    /// The condition "attribute `name` OP values". The values must have passed
    /// [`ComparisonOperator::check_values`].
    pub fn condition(self, name: &str, values: Vec<AttributeValue>) -> Condition {
        use ComparisonOperator as C;
        let attr = || Operand::Path(Path::attr(name));
        let mut vals = values.into_iter().map(Operand::Value);
        let mut one = || vals.next().unwrap_or(Operand::Value(AttributeValue::Null));
        let cmp = |c: Comparator, v: Operand| Condition::Compare(attr(), c, v);
        match self {
            C::Eq => cmp(Comparator::Eq, one()),
            C::Ne => cmp(Comparator::Ne, one()),
            C::Le => cmp(Comparator::Le, one()),
            C::Lt => cmp(Comparator::Lt, one()),
            C::Ge => cmp(Comparator::Ge, one()),
            C::Gt => cmp(Comparator::Gt, one()),
            C::NotNull => Condition::AttributeExists(Path::attr(name)),
            C::Null => Condition::AttributeNotExists(Path::attr(name)),
            C::Contains => Condition::Contains(attr(), one()),
            C::NotContains => Condition::and(
                Condition::AttributeExists(Path::attr(name)),
                Condition::negate(Condition::Contains(attr(), one())),
            ),
            C::BeginsWith => Condition::BeginsWith(attr(), one()),
            C::Between => {
                let lo = one();
                Condition::Between(attr(), lo, one())
            }
            C::In => Condition::In(attr(), vals.collect()),
        }
    }
}

/// The order of two values of one orderable type: N numerically, S by UTF-8
/// bytes, B by bytes (the order key conditions and BETWEEN use).
pub(crate) fn order(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    use AttributeValue as V;
    match (a, b) {
        (V::N(x), V::N(y)) => Some(x.cmp(y)),
        (V::S(x), V::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (V::B(x), V::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}
