//! The condition AST (ConditionExpression, FilterExpression and the generic part of
//! KeyConditionExpression). Plain public types, so the legacy parameters
//! (Expected, QueryFilter, ScanFilter) can be converted into the same tree.

use crate::model::AttributeValue;

use super::paths::Path;

/// A value inside a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// An attribute of the item; missing attributes make most tests false.
    Path(Path),
    /// A constant from ExpressionAttributeValues (or a legacy AttributeValueList).
    Value(AttributeValue),
    /// `size(x)`: a number when `x` exists and has a size, otherwise nothing.
    Size(Box<Operand>),
}

/// The six comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparator {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Comparator {
    /// The operator as written in expressions and in AWS's messages.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "<>",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }

    /// Parses an operator token.
    pub fn from_symbol(s: &str) -> Option<Comparator> {
        Some(match s {
            "=" => Comparator::Eq,
            "<>" => Comparator::Ne,
            "<" => Comparator::Lt,
            "<=" => Comparator::Le,
            ">" => Comparator::Gt,
            ">=" => Comparator::Ge,
            _ => return None,
        })
    }

    /// True for the ordering operators, which only apply to N, S and B.
    pub fn is_ordering(self) -> bool {
        !matches!(self, Comparator::Eq | Comparator::Ne)
    }
}

/// The type names `attribute_type` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrType {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
    /// String set.
    Ss,
    /// Number set.
    Ns,
    /// Binary set.
    Bs,
    /// Map.
    M,
    /// List.
    L,
    /// Boolean.
    Bool,
    /// Null.
    Null,
}

impl AttrType {
    /// All ten types, in the order AWS lists them in its "valid types" message.
    pub const ALL: [AttrType; 10] = [
        AttrType::B,
        AttrType::Null,
        AttrType::Ss,
        AttrType::Bool,
        AttrType::L,
        AttrType::Bs,
        AttrType::N,
        AttrType::Ns,
        AttrType::S,
        AttrType::M,
    ];

    /// DynamoDB's descriptor: "S", "SS", "BOOL", ...
    pub fn name(self) -> &'static str {
        match self {
            AttrType::S => "S",
            AttrType::N => "N",
            AttrType::B => "B",
            AttrType::Ss => "SS",
            AttrType::Ns => "NS",
            AttrType::Bs => "BS",
            AttrType::M => "M",
            AttrType::L => "L",
            AttrType::Bool => "BOOL",
            AttrType::Null => "NULL",
        }
    }

    /// The type named by a descriptor (case-sensitive, as AWS checks it).
    pub fn from_name(s: &str) -> Option<AttrType> {
        AttrType::ALL.into_iter().find(|t| t.name() == s)
    }

    /// True when `v` has this type.
    pub fn matches(self, v: &AttributeValue) -> bool {
        v.type_name() == self.name()
    }
}

/// A condition: the tree of ConditionExpression / FilterExpression.
///
/// Operator precedence is already resolved (NOT binds tighter than AND, AND
/// tighter than OR); parentheses leave no trace.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `a <op> b`.
    Compare(Operand, Comparator, Operand),
    /// `a BETWEEN lo AND hi` (both bounds inclusive).
    Between(Operand, Operand, Operand),
    /// `a IN (x, y, ...)`.
    In(Operand, Vec<Operand>),
    /// `attribute_exists(path)`.
    AttributeExists(Path),
    /// `attribute_not_exists(path)`.
    AttributeNotExists(Path),
    /// `attribute_type(x, :type)`.
    AttributeType(Operand, AttrType),
    /// `begins_with(x, prefix)` on S or B.
    BeginsWith(Operand, Operand),
    /// `contains(x, y)`: substring of S or B, member of a set, element of a list.
    Contains(Operand, Operand),
    /// `a AND b`.
    And(Box<Condition>, Box<Condition>),
    /// `a OR b`.
    Or(Box<Condition>, Box<Condition>),
    /// `NOT a`.
    Not(Box<Condition>),
}

impl Condition {
    /// `a AND b`, boxing for the caller.
    pub fn and(a: Condition, b: Condition) -> Condition {
        Condition::And(Box::new(a), Box::new(b))
    }

    /// `a OR b`, boxing for the caller.
    pub fn or(a: Condition, b: Condition) -> Condition {
        Condition::Or(Box::new(a), Box::new(b))
    }

    /// `NOT a`, boxing for the caller.
    pub fn negate(a: Condition) -> Condition {
        Condition::Not(Box::new(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparator_symbols_round_trip() {
        for c in [
            Comparator::Eq,
            Comparator::Ne,
            Comparator::Lt,
            Comparator::Le,
            Comparator::Gt,
            Comparator::Ge,
        ] {
            assert_eq!(Comparator::from_symbol(c.symbol()), Some(c));
        }
        assert_eq!(Comparator::from_symbol("=="), None);
    }

    #[test]
    fn attr_type_names_round_trip() {
        for t in AttrType::ALL {
            assert_eq!(AttrType::from_name(t.name()), Some(t));
        }
        assert_eq!(AttrType::from_name("ss"), None);
        assert!(AttrType::Null.matches(&AttributeValue::Null));
        assert!(!AttrType::S.matches(&AttributeValue::Null));
    }
}
