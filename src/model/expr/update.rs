//! The UpdateExpression AST and how it changes an item.
//!
//! Semantics (Scylla's test_update_expression.py and dynalite's test/updateItem.js,
//! both run against AWS): every right-hand side and every ADD/DELETE operand is
//! evaluated against the item as it was before the update (`SET a = :v, b = a`
//! reads the old `a`); list indexes refer to the old positions; SETs past the end of
//! a list append, in index order; REMOVEs are applied after the writes, highest
//! index first; removing a missing map key or list element does nothing; a missing
//! or wrong-typed parent is "The document path provided in the update expression is
//! invalid for update".

use std::collections::BTreeSet;

use crate::model::{AttributeValue, Error, Item};

use super::eval::size;
use super::paths::{Path, PathElement};
use super::projection::Projection;

/// A whole UpdateExpression: its actions in the order written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateExpr {
    /// The actions; their paths never overlap (the parser refuses that).
    pub actions: Vec<UpdateAction>,
}

/// One action of a SET, REMOVE, ADD or DELETE clause.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateAction {
    /// `SET path = value`.
    Set(Path, SetValue),
    /// `REMOVE path`.
    Remove(Path),
    /// `ADD path :value`: adds a number, or adds members to a set. A list value
    /// appends (only the legacy AttributeUpdates ADD builds that).
    Add(Path, AttributeValue),
    /// `DELETE path :set`: removes members; an emptied set disappears.
    Delete(Path, AttributeValue),
}

/// The right-hand side of a SET action.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    /// A single operand.
    Operand(SetOperand),
    /// `a + b` (numbers only, exact).
    Plus(SetOperand, SetOperand),
    /// `a - b` (numbers only, exact).
    Minus(SetOperand, SetOperand),
}

/// An operand of a SET right-hand side.
#[derive(Debug, Clone, PartialEq)]
pub enum SetOperand {
    /// An attribute of the old item; it must exist.
    Path(Path),
    /// A constant.
    Value(AttributeValue),
    /// `if_not_exists(path, fallback)`.
    IfNotExists(Path, Box<SetOperand>),
    /// `list_append(a, b)`.
    ListAppend(Box<SetOperand>, Box<SetOperand>),
}

const MSG_BAD_PATH: &str =
    "The document path provided in the update expression is invalid for update";
const MSG_MISSING: &str =
    "The provided expression refers to an attribute that does not exist in the item";
const MSG_BAD_TYPE: &str = "An operand in the update expression has an incorrect data type";

/// What an action does to one path, computed from the old item.
enum Write {
    Put(Path, AttributeValue),
    Remove(Path),
    /// Nothing to change, but the parent must still be a valid container
    /// (DELETE of a missing attribute under a bad parent is refused).
    Check(Path),
}

impl UpdateExpr {
    /// Applies the update to an existing item (the key attributes included).
    /// On error the item is left unchanged.
    pub fn apply(&self, item: &mut Item) -> Result<(), Error> {
        self.apply_inner(item, true)
    }

    /// Whether every action only takes something away (REMOVE, or DELETE from a set,
    /// including AttributeUpdates' DELETE): such an update on a missing item creates
    /// nothing, while one with any SET or ADD (or no action at all) creates the item.
    pub fn only_removes(&self) -> bool {
        !self.actions.is_empty()
            && self
                .actions
                .iter()
                .all(|a| matches!(a, UpdateAction::Remove(_) | UpdateAction::Delete(..)))
    }

    /// Applies the update to an item that did not exist, which the caller has
    /// created holding just the key. The only difference from [`UpdateExpr::apply`]:
    /// REMOVE of a nested path is silently ignored (Scylla's
    /// test_nested_attribute_remove_from_missing_item, run against AWS).
    pub fn apply_to_new(&self, item: &mut Item) -> Result<(), Error> {
        self.apply_inner(item, false)
    }

    fn apply_inner(&self, item: &mut Item, existed: bool) -> Result<(), Error> {
        let mut writes = Vec::with_capacity(self.actions.len());
        for action in &self.actions {
            writes.push(compute(action, item)?);
        }
        let (mut puts, mut removes): (Vec<Write>, Vec<Write>) =
            writes.into_iter().partition(|w| !matches!(w, Write::Remove(_)));
        // Writes in path order, so appends past a list's end land in index order;
        // removals afterwards and backwards, so old indexes stay valid.
        puts.sort_by(|a, b| write_path(a).cmp(write_path(b)));
        removes.sort_by(|a, b| write_path(b).cmp(write_path(a)));
        let mut new = item.clone();
        for w in puts.into_iter().chain(removes) {
            match w {
                Write::Put(path, v) => put(&mut new, &path, v)?,
                Write::Remove(path) => remove(&mut new, &path, existed)?,
                Write::Check(path) => check_parent(&mut new, &path)?,
            }
        }
        *item = new;
        Ok(())
    }

    /// The paths the actions write, in the order written.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.actions.iter().map(|a| match a {
            UpdateAction::Set(p, _)
            | UpdateAction::Remove(p)
            | UpdateAction::Add(p, _)
            | UpdateAction::Delete(p, _) => p,
        })
    }

    /// The top-level attributes the update writes.
    pub fn top_level_names(&self) -> BTreeSet<&str> {
        self.paths().map(Path::top).collect()
    }

    /// The first of `keys` (in the order given) that the update writes, at the top
    /// level or below it.
    pub fn touched_key<'k>(&self, keys: &[&'k str]) -> Option<&'k str> {
        let names = self.top_level_names();
        keys.iter().copied().find(|k| names.contains(k))
    }

    /// Refuses an update of a key attribute with AWS's message ("One or more
    /// parameter values were invalid: Cannot update attribute pk. This attribute is
    /// part of the key", recorded from AWS by nubo-db's conformance suite).
    /// `keys` is the table's key schema, hash key first.
    pub fn check_keys(&self, keys: &[&str]) -> Result<(), Error> {
        match self.touched_key(keys) {
            Some(k) => Err(Error::validation(format!(
                "One or more parameter values were invalid: Cannot update attribute {k}. This attribute is part of the key"
            ))),
            None => Ok(()),
        }
    }

    /// What ReturnValues UPDATED_OLD (given the old item) or UPDATED_NEW (given
    /// the new one) returns: the item projected on the paths the update writes, so
    /// `SET a.b = :v` returns `{a: {b: ...}}` and a list index returns the element
    /// now at that index (dynalite test/updateItem.js "should update nested
    /// attributes", recorded from AWS).
    pub fn returned_attributes(&self, item: &Item) -> Item {
        Projection { paths: self.paths().cloned().collect() }.apply(item)
    }
}

fn write_path(w: &Write) -> &Path {
    match w {
        Write::Put(p, _) | Write::Remove(p) | Write::Check(p) => p,
    }
}

/// The write an action makes, from the old item.
fn compute(action: &UpdateAction, item: &Item) -> Result<Write, Error> {
    Ok(match action {
        UpdateAction::Set(path, value) => Write::Put(path.clone(), set_value(value, item)?),
        UpdateAction::Remove(path) => Write::Remove(path.clone()),
        UpdateAction::Add(path, v) => Write::Put(path.clone(), add(path.get(item), v)?),
        UpdateAction::Delete(path, v) => match delete(path.get(item), v)? {
            Some(rest) => Write::Put(path.clone(), rest),
            None if path.get(item).is_some() => Write::Remove(path.clone()),
            None => Write::Check(path.clone()),
        },
    })
}

fn set_value(v: &SetValue, item: &Item) -> Result<AttributeValue, Error> {
    let arith =
        |a: &SetOperand, b: &SetOperand, plus: bool| match (operand(a, item)?, operand(b, item)?) {
            (AttributeValue::N(x), AttributeValue::N(y)) => {
                Ok(AttributeValue::N(if plus { x.checked_add(&y)? } else { x.checked_sub(&y)? }))
            }
            _ => Err(Error::validation(MSG_BAD_TYPE)),
        };
    match v {
        SetValue::Operand(o) => operand(o, item),
        SetValue::Plus(a, b) => arith(a, b, true),
        SetValue::Minus(a, b) => arith(a, b, false),
    }
}

fn operand(o: &SetOperand, item: &Item) -> Result<AttributeValue, Error> {
    match o {
        SetOperand::Path(p) => p.get(item).cloned().ok_or_else(|| Error::validation(MSG_MISSING)),
        SetOperand::Value(v) => Ok(v.clone()),
        SetOperand::IfNotExists(p, fallback) => match p.get(item) {
            Some(v) => Ok(v.clone()),
            None => operand(fallback, item),
        },
        SetOperand::ListAppend(a, b) => match (operand(a, item)?, operand(b, item)?) {
            (AttributeValue::L(mut x), AttributeValue::L(y)) => {
                x.extend(y);
                Ok(AttributeValue::L(x))
            }
            _ => Err(Error::validation(MSG_BAD_TYPE)),
        },
    }
}

/// ADD: numbers add (a missing attribute counts as 0), sets gain members, lists
/// (legacy only) append.
fn add(old: Option<&AttributeValue>, v: &AttributeValue) -> Result<AttributeValue, Error> {
    use AttributeValue as V;
    Ok(match (old, v) {
        (None, V::N(_) | V::Ss(_) | V::Ns(_) | V::Bs(_) | V::L(_)) => v.clone(),
        (Some(V::N(a)), V::N(b)) => V::N(a.checked_add(b)?),
        (Some(V::Ss(a)), V::Ss(b)) => V::Ss(union(a, b)),
        (Some(V::Ns(a)), V::Ns(b)) => V::Ns(union(a, b)),
        (Some(V::Bs(a)), V::Bs(b)) => V::Bs(union(a, b)),
        (Some(V::L(a)), V::L(b)) => V::L(a.iter().chain(b).cloned().collect()),
        _ => return Err(Error::validation(MSG_BAD_TYPE)),
    })
}

/// DELETE: the members left, `None` when none are (or nothing was there).
fn delete(
    old: Option<&AttributeValue>,
    v: &AttributeValue,
) -> Result<Option<AttributeValue>, Error> {
    use AttributeValue as V;
    let rest = match (old, v) {
        (None, V::Ss(_) | V::Ns(_) | V::Bs(_)) => return Ok(None),
        (Some(V::Ss(a)), V::Ss(b)) => V::Ss(minus(a, b)),
        (Some(V::Ns(a)), V::Ns(b)) => V::Ns(minus(a, b)),
        (Some(V::Bs(a)), V::Bs(b)) => V::Bs(minus(a, b)),
        _ => return Err(Error::validation(MSG_BAD_TYPE)),
    };
    Ok((size(&rest) != Some(0)).then_some(rest))
}

fn union<T: Clone + PartialEq>(a: &[T], b: &[T]) -> Vec<T> {
    let mut out = a.to_vec();
    for x in b {
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    out
}

fn minus<T: Clone + PartialEq>(a: &[T], b: &[T]) -> Vec<T> {
    a.iter().filter(|x| !b.contains(x)).cloned().collect()
}

fn put(item: &mut Item, path: &Path, v: AttributeValue) -> Result<(), Error> {
    let Some(last) = path.0.get(1..).and_then(<[PathElement]>::last) else {
        item.insert(path.top().to_owned(), v);
        return Ok(());
    };
    match (path.parent_mut(item), last) {
        (Some(AttributeValue::M(m)), PathElement::Name(n)) => {
            m.insert(n.clone(), v);
        }
        (Some(AttributeValue::L(l)), PathElement::Index(i)) => match l.get_mut(*i) {
            Some(slot) => *slot = v,
            None => l.push(v),
        },
        _ => return Err(Error::validation(MSG_BAD_PATH)),
    }
    Ok(())
}

fn remove(item: &mut Item, path: &Path, existed: bool) -> Result<(), Error> {
    let Some(last) = path.0.get(1..).and_then(<[PathElement]>::last) else {
        item.remove(path.top());
        return Ok(());
    };
    match (path.parent_mut(item), last) {
        (Some(AttributeValue::M(m)), PathElement::Name(n)) => {
            m.remove(n);
        }
        (Some(AttributeValue::L(l)), PathElement::Index(i)) => {
            if *i < l.len() {
                l.remove(*i);
            }
        }
        _ if !existed => {}
        _ => return Err(Error::validation(MSG_BAD_PATH)),
    }
    Ok(())
}

fn check_parent(item: &mut Item, path: &Path) -> Result<(), Error> {
    let Some(last) = path.0.get(1..).and_then(<[PathElement]>::last) else {
        return Ok(());
    };
    match (path.parent_mut(item), last) {
        (Some(AttributeValue::M(_)), PathElement::Name(_))
        | (Some(AttributeValue::L(_)), PathElement::Index(_)) => Ok(()),
        _ => Err(Error::validation(MSG_BAD_PATH)),
    }
}
