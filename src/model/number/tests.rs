//! Tests for [`Number`]: AWS's recorded examples, then properties.

use proptest::prelude::*;

use super::*;
use crate::model::value::testing::arb_number;

fn n(s: &str) -> Number {
    Number::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn err(s: &str) -> String {
    Number::parse(s).unwrap_err().to_string()
}

#[test]
fn normalizes_like_aws() {
    // Inputs and outputs recorded from AWS (dynalite test/putItem.js "should put
    // really long numbers", nubo-db/dynamodb-conformance numberPrecision and
    // numberByteSize tests, dynoxide#109).
    let cases = [
        ("0000012345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
        (
            "-00001.23456789012345678901234567890123456780000",
            "-1.2345678901234567890123456789012345678",
        ),
        ("0042.1200", "42.12"),
        ("1.0", "1"),
        ("3.1400", "3.14"),
        ("1.5E2", "150"),
        ("-0015.789e6", "-15789000"),
        ("+5", "5"),
        ("+1.5", "1.5"),
        ("+0", "0"),
        ("+1e2", "100"),
        ("1e+2", "100"),
        ("1.5E+3", "1500"),
        ("-0", "0"),
        ("-0.000", "0"),
        ("0e125", "0"),
        ("0.0e126", "0"),
        (".123", "0.123"),
        ("5.", "5"),
        ("0.00000000000000000000000000000000000001", "0.00000000000000000000000000000000000001"),
    ];
    for (input, output) in cases {
        assert_eq!(n(input).to_string(), output, "input {input}");
    }
    let max = format!("{}{}", "9".repeat(38), "0".repeat(88));
    assert_eq!(n("0009.99999999999999999999999999999999999990000e125").to_string(), max);
    assert_eq!(n("-9.9999999999999999999999999999999999999E+125").to_string(), format!("-{max}"));
    let min = format!("0.{}1", "0".repeat(129));
    assert_eq!(n("0001.000e-130").to_string(), min);
    assert_eq!(n("-1E-130").to_string(), format!("-{min}"));
    assert_eq!(n("1E125").to_string(), format!("1{}", "0".repeat(125)));
}

#[test]
fn numeric_equality() {
    assert_eq!(n("1.0"), n("1"));
    assert_eq!(n("1e0"), n("01"));
    assert_eq!(n("-0"), n("0"));
    assert_eq!(n("100"), n("1E2"));
    assert_ne!(n("1"), n("-1"));
    assert!(n("-1") < n("0") && n("0") < n("1e-130") && n("1e-130") < n("1"));
    assert!(n("-1.25") < n("-1.2") && n("1.2") < n("1.25") && n("9") < n("10"));
}

#[test]
fn rejects_with_aws_messages() {
    // dynalite test/putItem.js "empty/invalid numbers in Item" (recorded from AWS).
    assert_eq!(err(""), MSG_NOT_NUMERIC);
    assert_eq!(err("b"), format!("{MSG_NOT_NUMERIC}: b"));
    for s in [
        "NaN",
        "Infinity",
        "-Infinity",
        "-NaN",
        "dog",
        " 1",
        "1 ",
        "1e",
        "1.2.3",
        "+",
        ".",
        "e5",
        "0x10",
        "1e1.5",
        "--1",
    ] {
        assert_eq!(err(s), format!("{MSG_NOT_NUMERIC}: {s}"), "{s}");
    }
    assert_eq!(err("123456789012345678901234567890123456789"), MSG_PRECISION);
    assert_eq!(err("-1.23456789012345678901234567890123456789"), MSG_PRECISION);
    assert_eq!(err("1e126"), MSG_OVERFLOW);
    assert_eq!(err("-1e126"), MSG_OVERFLOW);
    assert_eq!(err("11e125"), MSG_OVERFLOW);
    assert_eq!(err("1e-131"), MSG_UNDERFLOW);
    assert_eq!(err("-1e-131"), MSG_UNDERFLOW);
    assert_eq!(err("0.9e-130"), MSG_UNDERFLOW);
    // The exponent is read in full (64 bits) and range-checked, zero included
    // (nubo-db/dynamodb-conformance limits/numberExponent, AWS eu-west-2).
    assert_eq!(err("1e99999999999"), MSG_OVERFLOW);
    assert_eq!(err("-1e99999999999"), MSG_OVERFLOW);
    assert_eq!(err("1e-99999999999"), MSG_UNDERFLOW);
    assert_eq!(err("1e2147483648"), MSG_OVERFLOW);
    assert_eq!(err("1e9223372036854775807"), MSG_OVERFLOW);
    assert_eq!(err("1e-9223372036854775808"), MSG_UNDERFLOW);
    assert_eq!(err("1e9223372036854775808"), format!("{MSG_NOT_NUMERIC}: 1e9223372036854775808"));
    assert_eq!(err("0e126"), MSG_OVERFLOW);
    assert_eq!(err("0e-131"), MSG_UNDERFLOW);
}

#[test]
fn the_older_layer_converts_with_bigdecimal_first() {
    // nubo-db/dynamodb-conformance error-messages/partiqlParameterNumbers (AWS).
    let older = |s: &str| Number::parse_older(s).map(|n| n.to_string()).map_err(|e| e.to_string());
    let not = |s: &str| Err(format!("{MSG_NOT_NUMERIC}: {s}"));
    for s in ["1e99999999999", "-1e99999999999", "1e-99999999999", "1e2147483648", "1e-2147483648"]
    {
        assert_eq!(older(s), not(s), "{s}");
    }
    assert_eq!(older("1.5e-2147483647"), not("1.5e-2147483647"));
    // precision - scale wraps in 32 bits: AWS calls this one an underflow.
    assert_eq!(older("1e2147483647"), Err(MSG_UNDERFLOW.to_string()));
    assert_eq!(older("1e126"), Err(MSG_OVERFLOW.to_string()));
    assert_eq!(older("1e-131"), Err(MSG_UNDERFLOW.to_string()));
    assert_eq!(older(""), Err(MSG_NOT_NUMERIC.to_string()));
    assert_eq!(older("0e1000"), Ok("0".to_string()));
    assert_eq!(older("1.50e2"), Ok("150".to_string()));
    assert!(Number::fits_bigdecimal("1e2147483647"));
    assert!(!Number::fits_bigdecimal("1e2147483648"));
    assert!(!Number::fits_bigdecimal("1.5e-2147483647"));
}

#[test]
fn sizes_match_aws_measurements() {
    // nubo-db/dynamodb-conformance src/item-size.ts CAPTURED_NUMBER_BYTES (AWS eu-west-2).
    let cases = [
        ("0", 1),
        ("1", 2),
        ("12", 2),
        ("123", 3),
        ("1234", 3),
        ("12345678901234567890123456789012345678", 20),
        ("0042", 2),
        ("100", 2),
        ("1010", 3),
        ("0.0000001", 2),
        ("1E125", 2),
        ("1E-100", 2),
        ("1.5", 3),
        ("15", 2),
        ("1.2", 3),
        ("1.200", 3),
        ("1.234", 4),
        ("3.14159", 5),
        ("123456", 4),
        ("100.5", 4),
        ("0.15", 2),
        ("-42", 3),
        ("-0", 1),
    ];
    for (literal, bytes) in cases {
        assert_eq!(n(literal).size_bytes(), bytes, "{literal}");
    }
}

#[test]
fn arithmetic_follows_aws() {
    let sum = |a: &str, b: &str| n(a).checked_add(&n(b)).map(|x| x.to_string());
    let diff = |a: &str, b: &str| n(a).checked_sub(&n(b)).map(|x| x.to_string());
    assert_eq!(sum("1", "10000000000000000000000").unwrap(), "10000000000000000000001");
    assert_eq!(diff("10000000000000000000000", "1").unwrap(), "9999999999999999999999");
    assert_eq!(sum("0.1", "0.2").unwrap(), "0.3");
    assert_eq!(sum("-5", "5").unwrap(), "0");
    assert_eq!(diff("1.5", "2.75").unwrap(), "-1.25");
    // ScyllaDB test_number.py, checked against AWS: range and precision failures.
    assert_eq!(sum("9e125", "9e125").unwrap_err().to_string(), MSG_OVERFLOW);
    assert_eq!(diff("9e125", "-9e125").unwrap_err().to_string(), MSG_OVERFLOW);
    assert_eq!(diff("1e50", "1").unwrap_err().to_string(), MSG_OVERFLOW);
    assert_eq!(sum("1e50", "1").unwrap_err().to_string(), MSG_OVERFLOW);
    assert_eq!(diff("2e-130", "1.5e-130").unwrap_err().to_string(), MSG_UNDERFLOW);
}

#[test]
fn sort_key_bytes_reject_corruption() {
    for bytes in [
        &[][..],
        &[0x07],
        &[0x03],
        &[0x03, 10],
        &[0x03, 10, 0],
        &[0x03, 10, 1, 0],
        &[0x03, 10, 101, 0],
        &[0x02, 0x00],
    ] {
        assert!(Number::from_sort_key_bytes(bytes).is_err(), "{bytes:?}");
    }
}

/// A small number as (unscaled integer, scale): value = m / 10^scale.
fn small() -> impl Strategy<Value = (i64, u32)> {
    (-1_000_000_000_000i64..1_000_000_000_000, 0u32..=8)
}

fn from_small((m, scale): (i64, u32)) -> Number {
    n(&format!("{m}e-{scale}"))
}

proptest! {
    #[test]
    fn display_round_trips(x in arb_number()) {
        prop_assert_eq!(n(&x.to_string()), x);
    }

    #[test]
    fn other_spellings_parse_to_the_same_value(x in arb_number(), zeros in 0usize..4) {
        let text = x.to_string();
        let (sign, body) = text.strip_prefix('-').map_or(("+", text.as_str()), |b| ("-", b));
        let pad = "0".repeat(zeros);
        let point = if body.contains('.') { "" } else { "." };
        prop_assert_eq!(&n(&format!("{sign}{pad}{body}{point}{pad}")), &x);
        let digits: String = x.digits.iter().map(|d| char::from(b'0' + d)).collect();
        let sci = format!("{}{}.{}E{}", if x.neg { "-" } else { "" }, &digits[..1], &digits[1..], x.exp);
        prop_assert_eq!(&n(&sci), &x);
    }

    #[test]
    fn sort_key_order_is_numeric_order(a in arb_number(), b in arb_number()) {
        prop_assert_eq!(a.cmp(&b), a.sort_key_bytes().cmp(&b.sort_key_bytes()));
        prop_assert_eq!(Number::from_sort_key_bytes(&a.sort_key_bytes()).unwrap(), a);
    }

    #[test]
    fn sort_key_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..30)) {
        let _ = Number::from_sort_key_bytes(&bytes);
    }

    #[test]
    fn add_sub_and_ord_match_scaled_integers(a in small(), b in small()) {
        let scaled = |(m, s): (i64, u32)| i128::from(m) * 10i128.pow(8 - s);
        let (x, y) = (scaled(a), scaled(b));
        let (na, nb) = (from_small(a), from_small(b));
        prop_assert_eq!(na.checked_add(&nb).unwrap(), n(&format!("{}e-8", x + y)));
        prop_assert_eq!(na.checked_sub(&nb).unwrap(), n(&format!("{}e-8", x - y)));
        prop_assert_eq!(na.cmp(&nb), x.cmp(&y));
    }

    #[test]
    fn addition_is_exact_or_refused(a in arb_number(), b in arb_number()) {
        if let Ok(s) = a.checked_add(&b) {
            // The sum is exact, so subtracting b gives back exactly a.
            prop_assert_eq!(s.checked_sub(&b).unwrap(), a.clone());
            prop_assert_eq!(b.checked_add(&a).unwrap(), s);
        }
    }
}
