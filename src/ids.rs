//! Random ids on the hot path (request ids, Lambda's invocation ids, stream records' event
//! ids): drawn from a per-thread xorshift64* generator seeded once from the OS, so minting
//! one makes no getrandom call (one per invocation was 1 % of the pollers' time). Ids only
//! need to be unique in practice; nothing secret is drawn here.

use std::cell::Cell;

thread_local! {
    static STATE: Cell<u64> = Cell::new({
        let seed = u64::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap_or_default());
        seed | 1
    });
}

/// The next 64 random bits of this thread's generator.
pub fn next_u64() -> u64 {
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// A version-4 UUID's 16 bytes.
pub fn uuid_v4_bytes() -> [u8; 16] {
    let bits = (u128::from(next_u64()) << 64) | u128::from(next_u64());
    uuid::Builder::from_random_bytes(bits.to_le_bytes()).into_uuid().into_bytes()
}

/// A version-4 UUID in its hyphenated form, as Lambda's request ids are.
pub fn uuid_v4() -> String {
    uuid::Uuid::from_bytes(uuid_v4_bytes()).hyphenated().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuids_are_version_4_and_differ() {
        let (a, b) = (super::uuid_v4(), super::uuid_v4());
        let parsed = uuid::Uuid::parse_str(&a).expect("a UUID");
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(a.len(), 36);
        assert_ne!(a, b);
    }
}
