//! Standard base64 (RFC 4648 alphabet, `=` padding, canonical: no stray bits in the last
//! character), as AWS writes and reads every blob. SIMD-accelerated (`base64-simd`,
//! already in the tree through `aws-smithy-types`): a PutRecords batch decodes up to 5 MiB
//! of it per call, and GetRecords, SubscribeToShard and Lambda's Kinesis events encode as
//! much; the `base64` crate's portable engine spent about 8 instructions a character.
//! A proptest holds both functions to that crate's `STANDARD` engine, which sluice used
//! before, on any input.

/// The base64 text of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(bytes)
}

/// The bytes `text` encodes; `None` when it is not canonical padded standard base64.
pub fn decode(text: &[u8]) -> Option<Vec<u8>> {
    base64_simd::STANDARD.decode_to_vec(text).ok()
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;

    use super::*;

    /// Texts near base64: valid encodings, then cut, padded, with bytes changed.
    fn near_base64() -> impl Strategy<Value = Vec<u8>> {
        (
            proptest::collection::vec(any::<u8>(), 0..200),
            0usize..8,
            any::<u8>(),
            prop::sample::select(&b"AQgw+/=_-. \nA"[..]),
            any::<prop::sample::Index>(),
        )
            .prop_map(|(bytes, edit, byte, other, at)| {
                let mut text = STANDARD.encode(&bytes).into_bytes();
                let i = if text.is_empty() { 0 } else { at.index(text.len()) };
                match edit {
                    0 => {}
                    1 => text.truncate(i),
                    2 if !text.is_empty() => text[i] = other,
                    3 if !text.is_empty() => text[i] = byte,
                    4 => text.push(b'='),
                    5 => text.insert(i, other),
                    6 => {
                        while text.last() == Some(&b'=') {
                            text.pop();
                        }
                    }
                    _ => text = bytes,
                }
                text
            })
    }

    proptest! {
        #[test]
        fn decoding_agrees_with_the_base64_crate(text in near_base64()) {
            prop_assert_eq!(decode(&text), STANDARD.decode(&text).ok());
        }

        #[test]
        fn encoding_agrees_with_the_base64_crate(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert_eq!(encode(&bytes), STANDARD.encode(&bytes));
        }
    }

    #[test]
    fn stray_bits_and_bad_padding_are_refused() {
        for bad in ["QQ", "QR==", "Q===", "QQ=", "=", "QUJD=", "QU JD", "QUJ\n"] {
            assert_eq!(decode(bad.as_bytes()), None, "{bad}");
            assert!(STANDARD.decode(bad).is_err(), "{bad}");
        }
        assert_eq!(decode(b"QUI="), Some(b"AB".to_vec()));
        assert_eq!(decode(b""), Some(Vec::new()));
    }
}
