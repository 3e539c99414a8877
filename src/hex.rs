//! Bytes as hex digits appended to a `String`, without `format!` (on hot paths: SigV4
//! signing and verifying, Kinesis partition keys of forwarded items, URL escapes, the
//! eventID of every change record read).

/// `bytes` in lowercase hex.
pub fn lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_lower(&mut out, bytes);
    out
}

/// `bytes` in lowercase hex, appended to `out`.
pub fn push_lower(out: &mut String, bytes: &[u8]) {
    push(out, bytes, b"0123456789abcdef");
}

/// `bytes` in uppercase hex, appended to `out`.
pub fn push_upper(out: &mut String, bytes: &[u8]) {
    push(out, bytes, b"0123456789ABCDEF");
}

fn push(out: &mut String, bytes: &[u8], digits: &[u8; 16]) {
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(digits[usize::from(b >> 4)]));
        out.push(char::from(digits[usize::from(b & 15)]));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_cases_match_format() {
        let bytes = [0u8, 9, 10, 0x7f, 0xa5, 0xff];
        let (mut lower, mut upper) = (String::new(), String::new());
        super::push_lower(&mut lower, &bytes);
        super::push_upper(&mut upper, &bytes);
        let want: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(lower, want);
        assert_eq!(super::lower(&bytes), want);
        assert_eq!(upper, want.to_uppercase());
    }
}
