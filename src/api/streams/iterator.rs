//! Shard iterators: opaque, self-contained tokens, so GetRecords needs no server-side
//! state and an iterator survives a restart as AWS's do.
//!
//! The form copies AWS's observed one, `<StreamArn>|1|<base64 payload>`. The payload is
//! `version (2) | next sequence (u64 BE) | issue time ms (i64 BE) | reader (u64 BE) |
//! shard id length (u8) | shard id | CRC32` (version 1, from earlier releases, has no
//! reader), the CRC covering the ARN and everything before it, so a garbled,
//! truncated or re-prefixed token is refused instead of read from a wrong place. The
//! checksum guards against accidents, not forgery: a forged iterator could only read
//! what GetShardIterator would hand out anyway.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::error::StreamsError;

/// Iterators expire 15 minutes after they are returned (AWS's documented limit; the
/// default of `streams.iterator_lifetime_seconds`).
#[cfg(test)]
const MAX_AGE_MS: i64 = 15 * 60 * 1000;

/// Payload layout version.
const VERSION: u8 = 2;
/// The layout before readers were tracked: read as reader 0.
const VERSION_1: u8 = 1;

/// The separator version AWS's tokens carry between the ARN and the payload.
const FORM: &str = "1";

/// Where to read next in one shard, and when the iterator was handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardIterator {
    pub stream_arn: String,
    pub shard_id: String,
    /// The sequence number GetRecords reads from.
    pub position: u64,
    pub issued_ms: i64,
    /// The chain of iterators this one belongs to: new at GetShardIterator, kept by
    /// each NextShardIterator (`streams.enforce_limits` counts a shard's readers by it).
    pub reader: u64,
}

impl ShardIterator {
    /// The token.
    pub fn encode(&self) -> String {
        let id = self.shard_id.as_bytes();
        // Shard ids are at most 65 characters (the model), so the length fits a byte.
        let id = &id[..id.len().min(u8::MAX as usize)];
        let mut payload = Vec::with_capacity(22 + id.len());
        payload.push(VERSION);
        payload.extend_from_slice(&self.position.to_be_bytes());
        payload.extend_from_slice(&self.issued_ms.to_be_bytes());
        payload.extend_from_slice(&self.reader.to_be_bytes());
        payload.push(id.len() as u8);
        payload.extend_from_slice(id);
        let crc = checksum(&self.stream_arn, &payload);
        payload.extend_from_slice(&crc.to_be_bytes());
        format!("{}|{FORM}|{}", self.stream_arn, STANDARD.encode(payload))
    }

    /// Parses a token; `None` for anything that is not one of ours, intact.
    pub fn decode(token: &str) -> Option<ShardIterator> {
        let (rest, payload) = token.rsplit_once('|')?;
        let (stream_arn, form) = rest.rsplit_once('|')?;
        if form != FORM || stream_arn.is_empty() {
            return None;
        }
        let bytes = STANDARD.decode(payload).ok()?;
        let (body, crc) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
        if u32::from_be_bytes(crc.try_into().ok()?) != checksum(stream_arn, body) {
            return None;
        }
        let (&version, body) = body.split_first()?;
        if version != VERSION && version != VERSION_1 {
            return None;
        }
        let (position, body) = body.split_at_checked(8)?;
        let (issued, body) = body.split_at_checked(8)?;
        let (reader, body) = match version {
            VERSION => {
                let (reader, body) = body.split_at_checked(8)?;
                (u64::from_be_bytes(reader.try_into().ok()?), body)
            }
            _ => (0, body),
        };
        let (&len, id) = body.split_first()?;
        if id.len() != len as usize {
            return None;
        }
        Some(ShardIterator {
            stream_arn: stream_arn.to_string(),
            shard_id: String::from_utf8(id.to_vec()).ok()?,
            position: u64::from_be_bytes(position.try_into().ok()?),
            issued_ms: i64::from_be_bytes(issued.try_into().ok()?),
            reader,
        })
    }

    /// ExpiredIteratorException once the iterator is older than `lifetime_ms`
    /// (`streams.iterator_lifetime_seconds`, AWS: 15 minutes). An issue time far in the
    /// future (the clock was set back) counts as expired too, so an iterator cannot
    /// outlive its lifetime that way.
    pub fn check_age(&self, now_ms: i64, lifetime_ms: u64) -> Result<(), StreamsError> {
        // unsigned_abs: a saturated i64::MIN has no i64 absolute value (fuzz finding).
        match now_ms.saturating_sub(self.issued_ms).unsigned_abs() > lifetime_ms {
            true => Err(StreamsError::ExpiredIterator),
            false => Ok(()),
        }
    }
}

fn checksum(arn: &str, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(arn.as_bytes());
    hasher.update(&[0]);
    hasher.update(body);
    hasher.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    const ARN: &str =
        "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2026-01-01T00:00:00.000";

    fn sample(issued_ms: i64) -> ShardIterator {
        ShardIterator {
            stream_arn: ARN.into(),
            shard_id: "shardId-00000001767225600000-0a1b2c3d".into(),
            position: 42,
            issued_ms,
            reader: 7,
        }
    }

    #[test]
    fn tokens_round_trip_in_aws_form() {
        let it = sample(1_767_225_600_000);
        let token = it.encode();
        assert!(token.starts_with(&format!("{ARN}|1|")), "{token}");
        assert_eq!(ShardIterator::decode(&token), Some(it));
        // The longest table name still fits the model's 2048 characters.
        let long = ShardIterator {
            stream_arn: format!(
                "arn:aws:dynamodb:ap-southeast-2:000000000000:table/{}/stream/2026-01-01T00:00:00.000",
                "t".repeat(255)
            ),
            shard_id: "s".repeat(65),
            ..sample(0)
        };
        assert!(long.encode().len() <= 2048);
        assert_eq!(ShardIterator::decode(&long.encode()), Some(long));
    }

    #[test]
    fn garbage_and_tampering_are_refused() {
        let token = sample(1).encode();
        for bad in [
            "",
            "x",
            "|||",
            "sdfsdfsgagaddafgagasgasgasdfasdfasdfasdfasdgasdasdgasdg",
            &format!("{ARN}|1|"),
            &format!("{ARN}|1|!!!notbase64"),
            &format!("{ARN}|1|AAAA"),
            &format!("{ARN}|2|{}", token.rsplit_once('|').unwrap().1),
            &token.replace("table/t/", "table/u/"),
            &token[..token.len() - 4],
        ] {
            assert_eq!(ShardIterator::decode(bad), None, "{bad}");
        }
        // Every single-character change in the payload is caught.
        let (prefix, payload) = token.rsplit_once('|').unwrap();
        for i in 0..payload.len() {
            let mut chars: Vec<char> = payload.chars().collect();
            chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
            let changed: String = chars.into_iter().collect();
            let bad = format!("{prefix}|{changed}");
            assert_ne!(ShardIterator::decode(&bad), Some(sample(1)), "{bad}");
        }
    }

    #[test]
    fn iterators_expire_after_fifteen_minutes() {
        let clock = ManualClock::new(1_767_225_600_000);
        let it = sample(clock.now_millis());
        assert_eq!(it.check_age(clock.now_millis(), MAX_AGE_MS as u64), Ok(()));
        clock.advance_millis(MAX_AGE_MS);
        assert_eq!(it.check_age(clock.now_millis(), MAX_AGE_MS as u64), Ok(()));
        clock.advance_millis(1);
        assert_eq!(
            it.check_age(clock.now_millis(), MAX_AGE_MS as u64),
            Err(StreamsError::ExpiredIterator)
        );
        // Issued "in the future" by more than the limit: refused as well.
        let ahead = sample(clock.now_millis() + MAX_AGE_MS + 1);
        assert_eq!(
            ahead.check_age(clock.now_millis(), MAX_AGE_MS as u64),
            Err(StreamsError::ExpiredIterator)
        );
    }

    /// Fuzz finding (fuzz/regressions/tokens): an age that saturates to i64::MIN had no
    /// absolute value.
    #[test]
    fn ages_at_the_edge_of_i64_are_expired_not_an_overflow() {
        assert_eq!(
            sample(i64::MAX).check_age(i64::MIN, MAX_AGE_MS as u64),
            Err(StreamsError::ExpiredIterator)
        );
        assert_eq!(
            sample(i64::MIN).check_age(i64::MAX, MAX_AGE_MS as u64),
            Err(StreamsError::ExpiredIterator)
        );
    }
}
