//! Decoding DynamoDB's wire JSON for attribute values straight from the request text.
//!
//! AWS decodes in two passes, and so does this: its JSON deserializer first refuses wrong
//! JSON types anywhere in an item (SerializationException, pass 1, `wire_types`), and only
//! then is the model validated (ValidationException, first problem in document order,
//! pass 2). Validation messages are from dynalite's tests recorded against AWS and
//! DynamoDB Local's `InputConverter` (which fixes the order in which the members of one
//! value are looked at: S, SS, N, NS, B, BS, M, L, BOOL, NULL).
//!
//! Both passes stream over the text: no JSON tree is built, so what an item costs in
//! memory is what it decodes to. Pass 2 stops as soon as the running size passes 400 KB
//! (as DynamoDB Local's converter does), so an item too large to be valid never costs
//! more than the limit's worth of values, whatever its text's length.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::wire_types::{
    Shape, Token, base64_decode, check_token, coerce_bool, element_shape, member_shape,
};
use super::{
    AttributeValue, Item, MAX_DOCUMENT_LEVEL, MAX_ITEM_SIZE, MSG_ITEM_TOO_LARGE, MSG_NESTING,
    aws_list,
};
use crate::model::{Error, Number};

const INVALID: &str = "One or more parameter values were invalid: ";
const MSG_EMPTY: &str =
    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes";
const MSG_MULTIPLE: &str = "Supplied AttributeValue has more than one datatypes set, \
     must contain exactly one of the supported datatypes";
/// DynamoDB Local's `ITEM_CONTAINS_NULL_ATTRVALUE` (a JSON null where a value
/// must be); AWS's own wording for this case is not recorded anywhere we found.
const MSG_NULL_VALUE: &str = "The supplied Item contains a null AttributeValue";

/// The members of an AttributeValue, in the order DynamoDB Local examines them.
const MEMBERS: [&str; 10] = ["S", "SS", "N", "NS", "B", "BS", "M", "L", "BOOL", "NULL"];

fn invalid(detail: &str) -> Error {
    Error::validation(format!("{INVALID}{detail}"))
}

/// Decodes an attribute map (`Item`, `Key`, an `M`) from its JSON text (`null` is no
/// attributes: whether the parameter was required is the api layer's business).
pub fn item_from_str(text: &str) -> Result<Item, Error> {
    check(text, Shape::Item)?;
    if text == "null" {
        return Ok(Item::new());
    }
    decode_map(text, 1)
}

/// Decodes one AttributeValue from its JSON text.
pub fn value_from_str(text: &str) -> Result<AttributeValue, Error> {
    check(text, Shape::Value)?;
    decode_value(text, 1)
}

/// Pass 1 alone over one AttributeValue's JSON text.
pub fn check_value_str(text: &str) -> Result<(), Error> {
    check(text, Shape::Value)
}

/// Pass 1 alone over an attribute map's JSON text.
pub fn check_item_str(text: &str) -> Result<(), Error> {
    check(text, Shape::Item)
}

// ---------------------------------------------------------------------------------
// The plumbing: serde's errors cannot carry a model error, so a visitor leaves the one it
// stopped on in a slot and gives serde a placeholder.

type Slot = RefCell<Option<Error>>;

fn fail<E: de::Error>(slot: &Slot, e: Error) -> E {
    *slot.borrow_mut() = Some(e);
    E::custom("a model error")
}

/// Runs `seed` over `text` (one JSON value, as a RawValue holds it).
fn run<'a, S: DeserializeSeed<'a>>(text: &'a str, seed: S, slot: &Slot) -> Result<S::Value, Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    seed.deserialize(&mut de).map_err(|_| {
        // Text a RawValue holds is well-formed: only a model error stops a pass.
        slot.take().unwrap_or_else(|| Error::serialization("Unexpected token received from parser"))
    })
}

/// An object key, borrowed from the text when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

// ---------------------------------------------------------------------------------
// Pass 1: wrong JSON types anywhere, in document order.

fn check(text: &str, shape: Shape) -> Result<(), Error> {
    let slot = Slot::default();
    run(text, Check { shape, slot: &slot }, &slot)
}

struct Check<'s> {
    shape: Shape,
    slot: &'s Slot,
}

impl Check<'_> {
    fn token<E: de::Error>(&self, token: Token) -> Result<(), E> {
        check_token(self.shape, token).map_err(|e| fail(self.slot, e))
    }

    fn child(&self, shape: Shape) -> Self {
        Check { shape, slot: self.slot }
    }
}

impl<'de> DeserializeSeed<'de> for Check<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an attribute value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.token(Token::Null)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        self.token(Token::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.token(Token::Integer)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.token(Token::Integer)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.token(Token::Decimal)
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.token(Token::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.token(Token::Seq)?;
        while seq.next_element_seed(self.child(element_shape(self.shape)))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.token(Token::Map)?;
        while let Some(key) = map.next_key::<Key>()? {
            let shape = match self.shape {
                Shape::Item => Some(Shape::Value),
                _ => member_shape(&key.0),
            };
            match shape {
                Some(shape) => map.next_value_seed(self.child(shape))?,
                None => map.next_value::<IgnoredAny>().map(|_| ())?,
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------
// Pass 2: the model, in document order, from text pass 1 accepted.

/// Decodes a map whose values sit at `level`, refusing as soon as the running size
/// passes 400 KB, as DynamoDB Local's converter does (so the size error comes in
/// document order too).
fn decode_map(text: &str, level: usize) -> Result<Item, Error> {
    let slot = Slot::default();
    run(text, MapSeed { level, slot: &slot }, &slot)
}

struct MapSeed<'s> {
    level: usize,
    slot: &'s Slot,
}

impl<'de> DeserializeSeed<'de> for MapSeed<'_> {
    type Value = Item;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Item, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MapSeed<'_> {
    type Value = Item;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an attribute map")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let mut out = Item::new();
        let mut size = 0;
        while let Some(name) = map.next_key::<Key>()? {
            let raw: &RawValue = map.next_value()?;
            if raw.get() == "null" {
                let name = &name.0;
                return Err(fail(
                    self.slot,
                    Error::validation(format!("{MSG_NULL_VALUE}: {name} is null")),
                ));
            }
            let value = decode_value(raw.get(), self.level).map_err(|e| fail(self.slot, e))?;
            size += name.0.len() + value.size();
            if size > MAX_ITEM_SIZE {
                return Err(fail(self.slot, Error::validation(MSG_ITEM_TOO_LARGE)));
            }
            out.insert(name.0.into_owned(), value);
        }
        Ok(out)
    }
}

/// `level` is the nesting level of the value itself (1 for a top-level attribute).
fn decode_value(text: &str, level: usize) -> Result<AttributeValue, Error> {
    let slot = Slot::default();
    let Some(found) = run(text, MembersSeed, &slot)? else {
        return Err(Error::validation(MSG_NULL_VALUE));
    };
    let mut value = None;
    let mut count = 0;
    for (key, raw) in MEMBERS.iter().zip(found) {
        let Some(raw) = raw.filter(|r| r.get() != "null") else { continue };
        count += 1;
        value = Some(decode_member(key, raw.get(), level)?);
    }
    match (count, value) {
        (1, Some(value)) => Ok(value),
        (0, _) => Err(Error::validation(MSG_EMPTY)),
        _ => Err(Error::validation(MSG_MULTIPLE)),
    }
}

/// The known members of one AttributeValue object, by their place in `MEMBERS` (the
/// last of a member written twice counts, as in a map); `None` when it is no object.
struct MembersSeed;

type Members<'a> = Option<[Option<&'a RawValue>; 10]>;

impl<'de> DeserializeSeed<'de> for MembersSeed {
    type Value = Members<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Members<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MembersSeed {
    type Value = Members<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an attribute value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
        let mut found = [None; 10];
        while let Some(key) = map.next_key::<Key>()? {
            match MEMBERS.iter().position(|m| *m == key.0) {
                Some(at) => found[at] = Some(map.next_value()?),
                None => map.next_value::<IgnoredAny>().map(|_| ())?,
            }
        }
        Ok(Some(found))
    }
    // Anything else (pass 1 allows only null here) is no object.
    fn visit_unit<E: de::Error>(self) -> Result<Members<'de>, E> {
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Members<'de>, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Members<'de>, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Members<'de>, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Members<'de>, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Members<'de>, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Members<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

fn decode_member(key: &str, text: &str, level: usize) -> Result<AttributeValue, Error> {
    Ok(match key {
        "S" => AttributeValue::S(string(text)?),
        "N" => AttributeValue::N(Number::parse(&string(text).unwrap_or_default())?),
        "B" => AttributeValue::B(base64_decode(&string(text).unwrap_or_default())?),
        "SS" => {
            let members = strings(text)?;
            if members.is_empty() {
                return Err(invalid("An string set  may not be empty"));
            }
            if has_duplicates(&members) {
                let detail =
                    format!("Input collection {} contains duplicates.", aws_list(&members));
                return Err(invalid(&detail));
            }
            AttributeValue::Ss(members)
        }
        "NS" => {
            // A null member reads as an empty string: the bare message (dynalite).
            let members = optional_strings(text)?;
            if members.is_empty() {
                return Err(invalid("An number set  may not be empty"));
            }
            let numbers = members
                .iter()
                .map(|m| Number::parse(m.as_deref().unwrap_or_default()))
                .collect::<Result<Vec<_>, _>>()?;
            // Duplicates are numeric ("1" and "1.0" clash) and, unlike SS and BS,
            // reported without the prefix or the members (dynalite, recorded).
            if has_duplicates(&numbers) {
                return Err(Error::validation("Input collection contains duplicates"));
            }
            AttributeValue::Ns(numbers)
        }
        "BS" => {
            let members = strings(text)?;
            if members.is_empty() {
                return Err(invalid("Binary sets should not be empty"));
            }
            let blobs = members.iter().map(|m| base64_decode(m)).collect::<Result<Vec<_>, _>>()?;
            if has_duplicates(&blobs) {
                // AWS's wording, missing space included (dynalite, recorded).
                let detail = format!(
                    "Input collection {}of type BS contains duplicates.",
                    aws_list(&members)
                );
                return Err(invalid(&detail));
            }
            AttributeValue::Bs(blobs)
        }
        "M" | "L" if level > MAX_DOCUMENT_LEVEL => return Err(Error::validation(MSG_NESTING)),
        "M" => AttributeValue::M(decode_map(text, level + 1)?),
        "L" => AttributeValue::L(decode_list(text, level + 1)?),
        "BOOL" => AttributeValue::Bool(boolean(text)),
        _ if boolean(text) => AttributeValue::Null,
        _ => {
            return Err(invalid("Null attribute value types must have the value of true"));
        }
    })
}

/// A JSON string (pass 1 allowed nothing else but null, which is no value).
fn string(text: &str) -> Result<String, Error> {
    // Most strings have no escapes: their value is the text between the quotes (the text
    // is valid JSON, so it holds no raw control characters either).
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'))
        && !inner.contains('\\')
    {
        return Ok(inner.to_string());
    }
    serde_json::from_str(text).map_err(|_| Error::validation(MSG_NULL_VALUE))
}

/// A JSON boolean, or a string AWS coerces to one (pass 1 checked which).
fn boolean(text: &str) -> bool {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Bool(b)) => b,
        Ok(serde_json::Value::String(s)) => coerce_bool(&s).unwrap_or_default(),
        _ => false,
    }
}

/// A set's members, a null one refused; past 400 KB of members the item is too large.
fn strings(text: &str) -> Result<Vec<String>, Error> {
    optional_strings(text)?
        .into_iter()
        .map(|m| m.ok_or_else(|| Error::validation(MSG_NULL_VALUE)))
        .collect()
}

fn optional_strings(text: &str) -> Result<Vec<Option<String>>, Error> {
    let slot = Slot::default();
    run(text, StringsSeed { slot: &slot }, &slot)
}

struct StringsSeed<'s> {
    slot: &'s Slot,
}

impl<'de> DeserializeSeed<'de> for StringsSeed<'_> {
    type Value = Vec<Option<String>>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for StringsSeed<'_> {
    type Value = Vec<Option<String>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of strings")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        let mut size = 0;
        while let Some(member) = seq.next_element::<Option<String>>()? {
            size += member.as_ref().map_or(0, String::len);
            if size > MAX_ITEM_SIZE {
                return Err(fail(self.slot, Error::validation(MSG_ITEM_TOO_LARGE)));
            }
            out.push(member);
        }
        Ok(out)
    }
}

fn decode_list(text: &str, level: usize) -> Result<Vec<AttributeValue>, Error> {
    let slot = Slot::default();
    run(text, ListSeed { level, slot: &slot }, &slot)
}

struct ListSeed<'s> {
    level: usize,
    slot: &'s Slot,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = Vec<AttributeValue>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = Vec<AttributeValue>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of attribute values")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        let mut size = 0;
        while let Some(raw) = seq.next_element::<&RawValue>()? {
            let value = decode_value(raw.get(), self.level).map_err(|e| fail(self.slot, e))?;
            size += value.size();
            if size > MAX_ITEM_SIZE {
                return Err(fail(self.slot, Error::validation(MSG_ITEM_TOO_LARGE)));
            }
            out.push(value);
        }
        Ok(out)
    }
}

fn has_duplicates<T: Eq + std::hash::Hash>(members: &[T]) -> bool {
    let mut seen = HashSet::with_capacity(members.len());
    !members.iter().all(|m| seen.insert(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list_of(n: usize, element: &str) -> String {
        format!("{{\"a\": {{\"L\": [{}]}}}}", vec![element; n].join(","))
    }

    #[test]
    fn errors_come_in_document_order_pass_1_first() {
        // A wrong JSON type after a validation problem still wins.
        let e = item_from_str(r#"{"b": {"N": "x"}, "a": {"S": 5}}"#).unwrap_err();
        assert_eq!(e, Error::serialization("NUMBER_VALUE cannot be converted to String"));
        // Of two validation problems, the first written is reported.
        let e = item_from_str(r#"{"b": {"N": "x"}, "a": {"SS": []}}"#).unwrap_err();
        assert!(e.message().contains("numeric"), "{e}");
        let e = item_from_str(r#"{"b": {"SS": []}, "a": {"N": "x"}}"#).unwrap_err();
        assert_eq!(e, invalid("An string set  may not be empty"));
    }

    #[test]
    fn an_item_past_400_kb_is_refused_when_its_running_size_passes_the_limit() {
        let too_large = Error::validation(MSG_ITEM_TOO_LARGE);
        // An L of n NULLs counts 3 + 2n bytes, plus 1 for the name "a".
        assert!(item_from_str(&list_of(204_798, r#"{"NULL": true}"#)).is_ok());
        let over = list_of(204_799, r#"{"NULL": true}"#);
        assert_eq!(item_from_str(&over).unwrap_err(), too_large);
        // Far past it, still the same answer (decoding stopped at the limit), unless
        // pass 1 finds a wrong type anywhere, even at the very end.
        let mut far = list_of(600_000, r#"{"NULL": true}"#);
        assert_eq!(item_from_str(&far).unwrap_err(), too_large);
        far.insert_str(far.len() - 3, r#",{"S": 1}"#);
        let e = item_from_str(&far).unwrap_err();
        assert_eq!(e, Error::serialization("NUMBER_VALUE cannot be converted to String"));
        // A string set counts its members as they come.
        let members: Vec<String> = (0..50_000).map(|i| format!("\"{i:010}\"")).collect();
        let set = format!(r#"{{"a": {{"SS": [{}]}}}}"#, members.join(","));
        assert_eq!(item_from_str(&set).unwrap_err(), too_large);
    }

    #[test]
    fn strings_with_and_without_escapes_decode_to_their_value() {
        for (text, want) in [
            (r#"{"S": "plain é"}"#, "plain é"),
            (r#"{"S": "q\"uote \\ \u00e9 \n"}"#, "q\"uote \\ é \n"),
            (r#"{"S": ""}"#, ""),
        ] {
            assert_eq!(value_from_str(text), Ok(AttributeValue::S(want.into())), "{text}");
        }
    }

    #[test]
    fn members_are_read_in_dynamodb_locals_order_whatever_order_they_are_written_in() {
        // Both invalid: S is looked at before N.
        let e = value_from_str(r#"{"N": "x", "S": null, "SS": []}"#).unwrap_err();
        assert_eq!(e, invalid("An string set  may not be empty"));
        // Unknown members are ignored; the last of a member written twice counts.
        assert_eq!(
            value_from_str(r#"{"X": 1, "S": "a", "S": "b"}"#),
            Ok(AttributeValue::S("b".into()))
        );
        assert_eq!(value_from_str(r#"{"X": 1}"#), Err(Error::validation(MSG_EMPTY)));
    }
}
