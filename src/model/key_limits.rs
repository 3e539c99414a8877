//! DynamoDB's limits on key attribute values, shared by the table's own keys and every
//! secondary index key: they are checked before a value can become part of a storage key
//! (fjall refuses keys over 65,535 bytes, so an unchecked value could stop the store).

use super::AttributeValue;

/// Partition key values: 1 to 2048 bytes (dev guide, ServiceQuotas.md).
pub const MAX_HASH_KEY_BYTES: usize = 2048;
/// Sort key values: 1 to 1024 bytes.
pub const MAX_RANGE_KEY_BYTES: usize = 1024;

/// AWS's message for a partition key value over the limit, its missing space included
/// (dynalite's tests recorded against AWS; moto asserts the same text for GSI keys).
pub const MSG_HASH_KEY_TOO_LARGE: &str = "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes";
/// AWS's message for a sort key value over the limit (also for an index's sort key:
/// moto's test_put_long_string_gsi_range_key_exception).
pub const MSG_RANGE_KEY_TOO_LARGE: &str = "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes";

/// The bytes DynamoDB counts for a key value: a string's UTF-8, a binary's raw bytes, a
/// number's digits as written in canonical form.
pub fn key_value_bytes(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::N(n) => n.to_string().len(),
        _ => 0,
    }
}

/// AWS's message when `value` is too large for a partition key (`is_hash`) or a sort key.
pub fn check_key_size(value: &AttributeValue, is_hash: bool) -> Result<(), &'static str> {
    let size = key_value_bytes(value);
    match is_hash {
        true if size > MAX_HASH_KEY_BYTES => Err(MSG_HASH_KEY_TOO_LARGE),
        false if size > MAX_RANGE_KEY_BYTES => Err(MSG_RANGE_KEY_TOO_LARGE),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_inclusive_and_count_bytes_not_characters() {
        let s = |n: usize, c: &str| AttributeValue::S(c.repeat(n));
        assert_eq!(check_key_size(&s(2048, "a"), true), Ok(()));
        assert_eq!(check_key_size(&s(2049, "a"), true), Err(MSG_HASH_KEY_TOO_LARGE));
        assert_eq!(check_key_size(&s(1024, "a"), false), Ok(()));
        assert_eq!(check_key_size(&s(1025, "a"), false), Err(MSG_RANGE_KEY_TOO_LARGE));
        // 513 four-byte characters are 2052 bytes.
        assert_eq!(check_key_size(&s(513, "😀"), true), Err(MSG_HASH_KEY_TOO_LARGE));
        let b = AttributeValue::B(vec![0; 1025]);
        assert_eq!(check_key_size(&b, false), Err(MSG_RANGE_KEY_TOO_LARGE));
        assert_eq!(check_key_size(&AttributeValue::B(vec![0; 1025]), true), Ok(()));
    }
}
