//! Shard iterators: opaque, signed tokens naming a stream, a shard, a position (the next
//! sequence number to read) and when they were issued. They are base64 of a small binary
//! layout plus an 8-byte MD5-based tag keyed by a secret kept in storage, so a token
//! survives restarts, and a forged or damaged one is refused, never read from.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Version byte of the token layout.
const VERSION: u8 = 1;

/// How long an iterator is valid (AWS: 5 minutes).
pub const ITERATOR_TTL_MS: i64 = 300_000;

/// What a token carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IteratorToken {
    pub stream_id: u64,
    /// The stream's name, for AWS's error messages about it.
    pub stream_name: String,
    pub shard: u32,
    /// The next sequence number to read.
    pub position: u64,
    pub issued_ms: i64,
}

impl IteratorToken {
    /// The wire form (at most 224 characters for a 128-character stream name).
    pub fn encode(&self, secret: &[u8; 16]) -> String {
        let mut v = Vec::with_capacity(38 + self.stream_name.len());
        v.push(VERSION);
        v.extend_from_slice(&self.stream_id.to_be_bytes());
        v.extend_from_slice(&self.shard.to_be_bytes());
        v.extend_from_slice(&self.position.to_be_bytes());
        v.extend_from_slice(&self.issued_ms.to_be_bytes());
        let name = self.stream_name.as_bytes();
        v.push(name.len().min(255) as u8);
        v.extend_from_slice(&name[..name.len().min(255)]);
        let tag = tag(secret, &v);
        v.extend_from_slice(&tag);
        STANDARD.encode(v)
    }

    /// Decodes and checks a token; `None` for anything sluice did not issue.
    pub fn decode(token: &str, secret: &[u8; 16]) -> Option<IteratorToken> {
        let v = STANDARD.decode(token).ok()?;
        if v.len() < 38 || v[0] != VERSION {
            return None;
        }
        let (body, got) = v.split_at(v.len() - 8);
        if tag(secret, body) != got {
            return None;
        }
        let u64_at = |i: usize| u64::from_be_bytes(body[i..i + 8].try_into().unwrap_or_default());
        let name_len = body[29] as usize;
        if body.len() != 30 + name_len {
            return None;
        }
        Some(IteratorToken {
            stream_id: u64_at(1),
            shard: u32::from_be_bytes(body[9..13].try_into().unwrap_or_default()),
            position: u64_at(13),
            issued_ms: u64_at(21) as i64,
            stream_name: String::from_utf8(body[30..].to_vec()).ok()?,
        })
    }
}

fn tag(secret: &[u8; 16], body: &[u8]) -> [u8; 8] {
    let mut input = Vec::with_capacity(32 + body.len());
    input.extend_from_slice(secret);
    input.extend_from_slice(body);
    input.extend_from_slice(secret);
    let digest = md5::compute(&input).0;
    let mut out = [0; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// A time as AWS's iterator messages print it: `Thu Jan 22 01:22:02 UTC 2015`.
pub fn amz_utc(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {y}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 16] = [9; 16];

    fn token() -> IteratorToken {
        IteratorToken {
            stream_id: 7,
            stream_name: "orders".into(),
            shard: 3,
            position: 42,
            issued_ms: 1_767_225_600_000,
        }
    }

    #[test]
    fn tokens_round_trip_and_refuse_tampering() {
        let t = token();
        let wire = t.encode(&SECRET);
        assert_eq!(IteratorToken::decode(&wire, &SECRET), Some(t.clone()));
        assert_eq!(IteratorToken::decode(&wire, &[1; 16]), None);
        let mut raw = STANDARD.decode(&wire).unwrap();
        raw[16] ^= 1;
        assert_eq!(IteratorToken::decode(&STANDARD.encode(&raw), &SECRET), None);
        for garbage in ["", "x", "AAAA", "not base64!", &wire[..wire.len() - 4]] {
            assert_eq!(IteratorToken::decode(garbage, &SECRET), None, "{garbage}");
        }
        let long = IteratorToken { stream_name: "n".repeat(128), ..t };
        assert!(long.encode(&SECRET).len() <= 512);
    }

    #[test]
    fn times_print_like_aws() {
        // kinesalite's recorded example.
        assert_eq!(amz_utc(1_421_889_722_000), "Thu Jan 22 01:22:02 UTC 2015");
        assert_eq!(amz_utc(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(amz_utc(1_709_210_096_000), "Thu Feb 29 12:34:56 UTC 2024");
    }
}
