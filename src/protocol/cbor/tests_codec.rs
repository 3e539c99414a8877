//! The codec against RFC 8949: Appendix A's examples both ways, Appendix F's malformed
//! inputs, property round trips, and bombs that must fail fast instead of exhausting
//! the stack or memory.

use proptest::collection::vec;
use proptest::prelude::*;

use super::decode::f16_to_f64;
use super::encode::f64_to_f16_exact;
use super::{Error, Limits, REQUEST_LIMITS, Value, decode, decode_with, encode};

/// Bytes from a hex dump in which `'quoted'` runs are ASCII: `hex("64 'Data' 45 'hello'")`.
pub(super) fn hex(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, part) in text.split('\'').enumerate() {
        if i % 2 == 1 {
            out.extend_from_slice(part.as_bytes());
            continue;
        }
        let digits: Vec<u8> = part.bytes().filter(u8::is_ascii_hexdigit).collect();
        for pair in digits.chunks(2) {
            out.push(u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap());
        }
    }
    out
}

fn u(n: u64) -> Value {
    Value::Unsigned(n)
}
fn t(s: &str) -> Value {
    Value::Text(s.into())
}
fn arr(items: Vec<Value>) -> Value {
    Value::Array(items)
}
fn map(pairs: Vec<(Value, Value)>) -> Value {
    Value::Map(pairs)
}
fn tag(n: u64, v: Value) -> Value {
    Value::Tag(n, Box::new(v))
}

/// Appendix A items in preferred serialization: they decode to the value and the value
/// encodes back to exactly these bytes.
fn preferred() -> Vec<(&'static str, Value)> {
    let bignum = Value::Bytes(hex("010000000000000000"));
    vec![
        ("00", u(0)),
        ("01", u(1)),
        ("0a", u(10)),
        ("17", u(23)),
        ("1818", u(24)),
        ("1819", u(25)),
        ("1864", u(100)),
        ("1903e8", u(1000)),
        ("1a000f4240", u(1_000_000)),
        ("1b000000e8d4a51000", u(1_000_000_000_000)),
        ("1bffffffffffffffff", u(u64::MAX)),
        ("c249010000000000000000", tag(2, bignum.clone())),
        ("3bffffffffffffffff", Value::Negative(u64::MAX)),
        ("c349010000000000000000", tag(3, bignum)),
        ("20", Value::Negative(0)),
        ("29", Value::Negative(9)),
        ("3863", Value::Negative(99)),
        ("3903e7", Value::Negative(999)),
        ("f90000", Value::Float(0.0)),
        ("f98000", Value::Float(-0.0)),
        ("f93c00", Value::Float(1.0)),
        ("fb3ff199999999999a", Value::Float(1.1)),
        ("f93e00", Value::Float(1.5)),
        ("f97bff", Value::Float(65504.0)),
        ("fa47c35000", Value::Float(100000.0)),
        ("fa7f7fffff", Value::Float(3.4028234663852886e38)),
        ("fb7e37e43c8800759c", Value::Float(1.0e300)),
        ("f90001", Value::Float(5.960464477539063e-8)),
        ("f90400", Value::Float(0.00006103515625)),
        ("f9c400", Value::Float(-4.0)),
        ("fbc010666666666666", Value::Float(-4.1)),
        ("f97c00", Value::Float(f64::INFINITY)),
        ("f9fc00", Value::Float(f64::NEG_INFINITY)),
        ("f4", Value::Bool(false)),
        ("f5", Value::Bool(true)),
        ("f6", Value::Null),
        ("f7", Value::Undefined),
        ("f0", Value::Simple(16)),
        ("f8ff", Value::Simple(255)),
        ("c074323031332d30332d32315432303a30343a30305a", tag(0, t("2013-03-21T20:04:00Z"))),
        ("c11a514b67b0", tag(1, u(1_363_896_240))),
        ("c1fb41d452d9ec200000", tag(1, Value::Float(1_363_896_240.5))),
        ("d74401020304", tag(23, Value::Bytes(vec![1, 2, 3, 4]))),
        ("d818456449455446", tag(24, Value::Bytes(b"dIETF".to_vec()))),
        (
            "d82076687474703a2f2f7777772e6578616d706c652e636f6d",
            tag(32, t("http://www.example.com")),
        ),
        ("40", Value::Bytes(vec![])),
        ("4401020304", Value::Bytes(vec![1, 2, 3, 4])),
        ("60", t("")),
        ("6161", t("a")),
        ("6449455446", t("IETF")),
        ("62225c", t("\"\\")),
        ("62c3bc", t("\u{fc}")),
        ("63e6b0b4", t("\u{6c34}")),
        ("64f0908591", t("\u{10151}")),
        ("80", arr(vec![])),
        ("83010203", arr(vec![u(1), u(2), u(3)])),
        ("8301820203820405", arr(vec![u(1), arr(vec![u(2), u(3)]), arr(vec![u(4), u(5)])])),
        (
            "98190102030405060708090a0b0c0d0e0f101112131415161718181819",
            arr((1..=25).map(u).collect()),
        ),
        ("a0", map(vec![])),
        ("a201020304", map(vec![(u(1), u(2)), (u(3), u(4))])),
        ("a26161016162820203", map(vec![(t("a"), u(1)), (t("b"), arr(vec![u(2), u(3)]))])),
        ("826161a161626163", arr(vec![t("a"), map(vec![(t("b"), t("c"))])])),
        (
            "a56161614161626142616361436164614461656145",
            map(["a", "b", "c", "d", "e"].iter().map(|k| (t(k), t(&k.to_uppercase()))).collect()),
        ),
    ]
}

#[test]
fn appendix_a_preferred_items_decode_and_encode_exactly() {
    for (bytes, value) in preferred() {
        assert_eq!(decode(&hex(bytes)), Ok(value.clone()), "decoding {bytes}");
        assert_eq!(encode(&value), hex(bytes), "encoding {value:?}");
    }
}

#[test]
fn appendix_a_other_forms_decode_to_the_same_items() {
    let inner = || arr(vec![u(1), arr(vec![u(2), u(3)]), arr(vec![u(4), u(5)])]);
    let cases = vec![
        ("fa7f800000", Value::Float(f64::INFINITY)),
        ("faff800000", Value::Float(f64::NEG_INFINITY)),
        ("fb7ff0000000000000", Value::Float(f64::INFINITY)),
        ("fbfff0000000000000", Value::Float(f64::NEG_INFINITY)),
        ("5f42010243030405ff", Value::Bytes(vec![1, 2, 3, 4, 5])),
        ("7f657374726561646d696e67ff", t("streaming")),
        ("9fff", arr(vec![])),
        ("9f018202039f0405ffff", inner()),
        ("9f01820203820405ff", inner()),
        ("83018202039f0405ff", inner()),
        ("83019f0203ff820405", inner()),
        (
            "9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff",
            arr((1..=25).map(u).collect()),
        ),
        ("bf61610161629f0203ffff", map(vec![(t("a"), u(1)), (t("b"), arr(vec![u(2), u(3)]))])),
        ("826161bf61626163ff", arr(vec![t("a"), map(vec![(t("b"), t("c"))])])),
        (
            "bf6346756ef563416d7421ff",
            map(vec![(t("Fun"), Value::Bool(true)), (t("Amt"), Value::Negative(1))]),
        ),
        // Not preferred, still well-formed: a long head for a small argument.
        ("1b0000000000000001", u(1)),
    ];
    for (bytes, value) in cases {
        assert_eq!(decode(&hex(bytes)), Ok(value), "decoding {bytes}");
    }
    for bytes in ["f97e00", "fa7fc00000", "fb7ff8000000000000"] {
        assert!(matches!(decode(&hex(bytes)), Ok(Value::Float(f)) if f.is_nan()), "{bytes}");
    }
    assert_eq!(encode(&Value::Float(f64::NAN)), hex("f97e00"));
}

#[test]
fn kinesalites_canned_error_decodes() {
    let canned = hex("bf 66 5f5f74797065 76 53657269616c697a6174696f6e457863657074696f6e ff");
    assert_eq!(decode(&canned), Ok(map(vec![(t("__type"), t("SerializationException"))])));
}

/// RFC 8949 Appendix F's not-well-formed examples, and a few of our own.
#[test]
fn malformed_inputs_are_errors() {
    // One case per `|`, grouped as in the appendix.
    let cases = [
        // End of input in a head.
        "18 | 19 01 | 1a 010203 | 1b 01020304050607 | 38 | 58 | 78 | 98 | 9a 010203",
        "b8 | d8 | f8 | f9 00 | fa 0000 | fb 000000",
        // Definite-length strings with short data.
        "41 | 61 | 5a ffffffff 00 | 5b ffffffffffffffff 010203 | 7a ffffffff 00",
        "7b 7fffffffffffffff 010203",
        // Definite-length containers short of items; a tag without content.
        "81 | 81 81 81 81 81 81 81 81 81 | 82 00 | a1 | a2 01 02 | a1 00",
        "a2 00 00 00 | c0",
        // Indefinite-length items never closed.
        "5f 41 00 | 7f 61 00 | 9f | 9f 01 02 | bf | bf 01 02 01 02 | 81 9f | 9f 80 00",
        "9f 9f 9f 9f 9f ff ff ff ff | 9f 81 9f 81 9f 9f ff ff ff",
        // Reserved additional information.
        "1c | 1d | 1e | 3c | 3d | 3e | 5c | 5d | 5e | 7c | 7d | 7e | 9c | 9d | 9e",
        "bc | bd | be | dc | dd | de | fc | fd | fe",
        // Two-byte simple values below 32.
        "f8 00 | f8 01 | f8 18 | f8 1f",
        // Chunks of the wrong type or of indefinite length.
        "5f 00 ff | 5f 21 ff | 5f 61 00 ff | 5f 80 ff | 5f a0 ff | 5f c0 00 ff",
        "5f e0 ff | 7f 41 00 ff | 5f 5f 41 00 ff ff | 7f 7f 61 00 ff ff",
        // Breaks where no indefinite-length item is open, or in a value's place.
        "ff | 81 ff | 82 00 ff | a1 ff | a1 ff 00 | a1 00 ff | a2 00 00 ff | 9f 81 ff",
        "9f 82 9f 81 9f 9f ff ff ff ff | bf 00 ff | bf 00 00 00 ff",
        // Indefinite length on majors 0, 1 and 6.
        "1f | 3f | df",
        // Invalid UTF-8, in a string and in a chunk; trailing bytes; nothing at all.
        "61 ff | 62 c3 28 | 7f 61 c3 61 bc ff | 00 00 |",
    ];
    for bytes in cases.iter().flat_map(|line| line.split('|')) {
        assert!(decode(&hex(bytes)).is_err(), "{bytes:?} decoded");
    }
    assert_eq!(decode(&hex("00 00")), Err(Error::Trailing(1)));
    assert_eq!(decode(&hex("7f 61 c3 61 bc ff")), Err(Error::InvalidUtf8));
}

#[test]
fn every_half_float_widens_and_narrows_exactly() {
    for half in 0..=u16::MAX {
        let wide = f16_to_f64(half);
        if wide.is_nan() {
            assert_eq!(f64_to_f16_exact(wide), Some(0x7e00));
        } else {
            assert_eq!(f64_to_f16_exact(wide), Some(half), "{half:#06x} = {wide}");
        }
    }
    // Neither more precision nor more range than a half has.
    for f in [1.0 + 2f64.powi(-11), 65520.0, 2f64.powi(-25), 1e-300, 0.1] {
        assert_eq!(f64_to_f16_exact(f), None, "{f}");
    }
}

/// 16 MiB, the largest body the server reads.
const BOMB: usize = 16 << 20;

#[test]
fn nesting_bombs_are_rejected_without_recursing_into_them() {
    // Arrays, indefinite arrays, tags, two-byte tags, and maps keyed by maps.
    for opener in [0x81u8, 0x9f, 0xc1, 0xd8, 0xa1, 0xbf] {
        let mut body = vec![opener; BOMB];
        if opener == 0xd8 {
            // Tag 24 repeated (`d8 18`), so the nesting is of tags with one-byte numbers.
            body.iter_mut().skip(1).step_by(2).for_each(|b| *b = 0x18);
        }
        assert_eq!(decode(&body), Err(Error::TooDeep(128)), "{opener:#04x}");
        assert_eq!(decode_with(&body, REQUEST_LIMITS), Err(Error::TooDeep(32)), "{opener:#04x}");
    }
}

#[test]
fn declared_sizes_beyond_the_input_allocate_nothing() {
    // Each declares up to 2^64-1 bytes or items and holds almost none of them.
    for bytes in [
        "5b ffffffffffffffff 00",
        "7b ffffffffffffffff 61",
        "9b ffffffffffffffff 00",
        "bb ffffffffffffffff 00 00",
        "5a ffffffff",
        "9a ffffffff 01 02 03",
    ] {
        assert_eq!(decode(&hex(bytes)), Err(Error::Eof), "{bytes}");
    }
}

#[test]
fn item_bombs_stop_at_the_item_limit() {
    // 16 Mi one-byte items: fine for a generic decode, too many for a request.
    let mut body = vec![0x9f];
    body.resize(BOMB - 1, 0x00);
    body.push(0xff);
    assert_eq!(decode_with(&body, REQUEST_LIMITS), Err(Error::TooManyItems(100_000)));
    let limits = Limits { max_depth: 4, max_items: 10 };
    assert_eq!(
        decode_with(&hex("8a 00 00 00 00 00 00 00 00 00 00"), limits),
        Err(Error::TooManyItems(10))
    );
    assert!(decode_with(&hex("89 00 00 00 00 00 00 00 00 00"), limits).is_ok());
    // Empty chunks cost nothing but bytes; an indefinite string of them still decodes.
    let mut chunks = vec![0x5f];
    chunks.resize(1 << 20, 0x40);
    chunks.push(0xff);
    assert_eq!(decode_with(&chunks, REQUEST_LIMITS), Ok(Value::Bytes(vec![])));
}

/// Any value the encoder can write: no NaN (it is never equal to itself) and only the
/// simple values that have a valid encoding and no meaning of their own.
fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<u64>().prop_map(Value::Unsigned),
        any::<u64>().prop_map(Value::Negative),
        vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
        vec(any::<char>(), 0..6).prop_map(|c| Value::Text(String::from_iter(c))),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        Just(Value::Undefined),
        prop_oneof![0u8..20, 32u8..=255].prop_map(Value::Simple),
        any::<f64>().prop_filter("NaN", |f| !f.is_nan()).prop_map(Value::Float),
        any::<f32>().prop_filter("NaN", |f| !f.is_nan()).prop_map(|f| Value::Float(f.into())),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            vec((inner.clone(), inner.clone()), 0..4).prop_map(Value::Map),
            (any::<u64>(), inner).prop_map(|(n, v)| Value::Tag(n, Box::new(v))),
        ]
    })
}

proptest! {
    #[test]
    fn values_round_trip(value in arb_value()) {
        let bytes = encode(&value);
        prop_assert_eq!(decode(&bytes), Ok(value));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..64)) {
        let _ = decode(&bytes);
        let _ = decode_with(&bytes, REQUEST_LIMITS).map(super::to_json);
    }

    #[test]
    fn damaged_encodings_never_panic(value in arb_value(), at in any::<usize>(), byte: u8) {
        let mut bytes = encode(&value);
        if !bytes.is_empty() {
            let at = at % bytes.len();
            bytes[at] = byte;
            let _ = decode(&bytes);
            bytes.truncate(at);
            let _ = decode(&bytes);
        }
    }
}
