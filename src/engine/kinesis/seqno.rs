//! Wire sequence numbers: 56 decimal digits, like AWS's, that carry the stream id, the
//! shard index and the shard's own dense sequence number.
//!
//! Layout: `49` + stream id (20 digits) + shard index (10) + sequence (20) + check (4).
//! Within a shard everything before the sequence is constant, so wire numbers increase
//! exactly as the shard's counter does. A child shard has a higher index than its parents,
//! so its numbers are also greater than theirs: a SequenceNumberForOrdering taken from a
//! parent orders before anything in its children, as AWS promises across resharding.
//! Carrying the stream id and shard lets GetShardIterator refuse a number from another
//! shard or from an earlier stream of the same name with AWS's messages.

/// What a valid wire sequence number encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqNo {
    pub stream_id: u64,
    pub shard: u32,
    pub seq: u64,
}

impl SeqNo {
    /// The wire form.
    pub fn encode(&self) -> String {
        // Only ASCII digits were written.
        std::str::from_utf8(&self.digits()).map(str::to_owned).unwrap_or_default()
    }

    /// The wire form's 56 ASCII digits, for a writer that copies them as they are (a
    /// PutRecords answer: no String, no UTF-8 check, per record).
    pub fn digits(&self) -> [u8; 56] {
        // Written digit by digit into a fixed buffer: `format!` with zero padding went
        // through the formatter's padding path a character at a time.
        let mut wire = [b'0'; 56];
        wire[..2].copy_from_slice(b"49");
        put_digits(&mut wire[2..22], self.stream_id);
        put_digits(&mut wire[22..32], u64::from(self.shard));
        put_digits(&mut wire[32..52], self.seq);
        put_digits(&mut wire[52..56], u64::from(check(self.stream_id, self.shard, self.seq)));
        wire
    }

    /// Parses a wire sequence number; `None` unless it is one sluice issued.
    pub fn parse(s: &str) -> Option<SeqNo> {
        if s.len() != 56 || !s.starts_with("49") || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let stream_id = s[2..22].parse::<u64>().ok()?;
        let shard = s[22..32].parse::<u32>().ok()?;
        let seq = s[32..52].parse::<u64>().ok()?;
        let sum = s[52..56].parse::<u16>().ok()?;
        (sum == check(stream_id, shard, seq)).then_some(SeqNo { stream_id, shard, seq })
    }
}

/// The shard sequence number a ContinuationSequenceNumber carries when nothing precedes
/// the subscription's position (a shard that never had a record): no record ever takes it,
/// and resuming AT or AFTER it starts at the shard's first record. Without it, a client
/// resuming AFTER the shard's starting sequence number (which is record 0's) would skip
/// the first record written after an idle subscription ended.
pub const BEFORE_FIRST: u64 = u64::MAX;

/// Where reading resumes from a wire number's shard sequence number, AT or AFTER it.
pub fn resume_at(seq: u64, after: bool) -> u64 {
    if seq == BEFORE_FIRST {
        0
    } else if after {
        seq + 1
    } else {
        seq
    }
}

/// The ContinuationSequenceNumber of a subscription whose next record is `next`: resuming
/// AFTER it continues exactly there.
pub fn continuation(stream_id: u64, shard: u32, next: u64) -> String {
    encode(stream_id, shard, next.checked_sub(1).unwrap_or(BEFORE_FIRST))
}

/// A sequence number serializes as its wire form (PutRecords' serde answers; the
/// hand-written one copies [`SeqNo::digits`]).
impl serde::Serialize for SeqNo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

/// Shorthand for `SeqNo { .. }.encode()`.
pub fn encode(stream_id: u64, shard: u32, seq: u64) -> String {
    SeqNo { stream_id, shard, seq }.encode()
}

/// Writes `value` in decimal into `out`, right-aligned over the zeros already there
/// (every caller's field is wide enough for its type's largest value). It stops at the
/// value's last digit: the zeros pad it, and most of a sequence number's 56 digits are
/// padding (a stream id of 1, a shard index of 3).
pub(crate) fn put_digits(out: &mut [u8], mut value: u64) {
    for slot in out.iter_mut().rev() {
        if value == 0 {
            break;
        }
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
    debug_assert_eq!(value, 0, "a field too narrow for its value");
}

/// Four check digits, so a mistyped number is refused rather than read from elsewhere.
fn check(stream_id: u64, shard: u32, seq: u64) -> u16 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for word in [stream_id, u64::from(shard), seq] {
        for b in word.to_be_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    (h % 10_000) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shape_and_order() {
        let a = encode(1, 0, 0);
        assert_eq!(a.len(), 56);
        assert!(a.starts_with("4900000000000000000001"));
        let zeros = format!("49{}{:04}", "0".repeat(50), check(0, 0, 0));
        assert_eq!(encode(0, 0, 0), zeros, "zeros pad every field");
        assert!(encode(1, 0, 9) < encode(1, 0, 10));
        // Children (higher index) sort after their parents, numerically too.
        assert!(encode(1, 0, u64::MAX) < encode(1, 1, 0));
        assert_eq!(SeqNo::parse("49"), None);
        let mut bad = a.clone().into_bytes();
        bad[40] = if bad[40] == b'9' { b'8' } else { b'9' };
        assert_eq!(SeqNo::parse(std::str::from_utf8(&bad).unwrap()), None);
    }

    #[test]
    fn continuations_resume_exactly_where_they_stopped() {
        for next in [0, 1, 7] {
            let c = SeqNo::parse(&continuation(5, 2, next)).unwrap();
            assert_eq!(resume_at(c.seq, true), next, "AFTER the continuation of {next}");
        }
        assert_eq!(resume_at(BEFORE_FIRST, false), 0);
        assert_eq!(resume_at(4, false), 4);
    }

    proptest! {
        #[test]
        fn round_trips(stream_id in any::<u64>(), shard in any::<u32>(), seq in any::<u64>()) {
            let n = SeqNo { stream_id, shard, seq };
            prop_assert_eq!(SeqNo::parse(&n.encode()), Some(n));
        }

        #[test]
        fn digits_are_the_zero_padded_decimal_form(stream_id in any::<u64>(), shard in any::<u32>(), seq in any::<u64>()) {
            let n = SeqNo { stream_id, shard, seq };
            let sum = check(stream_id, shard, seq);
            prop_assert_eq!(n.encode(), format!("49{stream_id:020}{shard:010}{seq:020}{sum:04}"));
        }

        #[test]
        fn wire_order_is_counter_order(a in any::<u64>(), b in any::<u64>()) {
            let (x, y) = (encode(3, 2, a), encode(3, 2, b));
            prop_assert_eq!(x[..52].cmp(&y[..52]), a.cmp(&b));
        }
    }
}
