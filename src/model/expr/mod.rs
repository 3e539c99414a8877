//! TEMPORARY stand-in for the expression language while it is being written.
#![allow(dead_code, unused_variables)]
use crate::model::{AttributeValue, Error, Item};
use std::collections::HashMap;

pub struct ExprContext<'a> {
    n: Option<&'a HashMap<String, String>>,
    v: Option<&'a HashMap<String, AttributeValue>>,
}
impl<'a> ExprContext<'a> {
    pub fn new(
        n: Option<&'a HashMap<String, String>>,
        v: Option<&'a HashMap<String, AttributeValue>>,
    ) -> Self {
        ExprContext { n, v }
    }
    pub fn finish(&self) -> Result<(), Error> {
        Ok(())
    }
}
pub enum ConditionKind {
    Condition,
    Filter,
}
#[derive(Debug, Clone)]
pub struct Condition;
impl Condition {
    pub fn eval(&self, item: &Item) -> Result<bool, Error> {
        Ok(true)
    }
}
#[derive(Debug, Clone)]
pub struct UpdateExpr;
impl UpdateExpr {
    pub fn apply(&self, item: &mut Item) -> Result<(), Error> {
        Ok(())
    }
    pub fn touches_attribute(&self, name: &str) -> bool {
        false
    }
    pub fn touched_attributes(&self) -> Vec<String> {
        vec![]
    }
}
#[derive(Debug, Clone)]
pub struct Projection;
impl Projection {
    pub fn apply(&self, item: &Item) -> Item {
        item.clone()
    }
}
pub fn parse_condition(s: &str, k: ConditionKind, c: &mut ExprContext) -> Result<Condition, Error> {
    Ok(Condition)
}
pub fn parse_update(s: &str, c: &mut ExprContext) -> Result<UpdateExpr, Error> {
    Ok(UpdateExpr)
}
pub fn parse_projection(s: &str, c: &mut ExprContext) -> Result<Projection, Error> {
    Ok(Projection)
}
pub mod legacy {
    use super::*;
    pub fn expected(v: &serde_json::Value, op: Option<&str>) -> Result<Option<Condition>, Error> {
        Ok(None)
    }
    pub fn attributes_to_get(v: &[String]) -> Result<Projection, Error> {
        Ok(Projection)
    }
    pub fn attribute_updates(v: &serde_json::Value) -> Result<UpdateExpr, Error> {
        Ok(UpdateExpr)
    }
}
