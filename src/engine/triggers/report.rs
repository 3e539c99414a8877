//! ReportBatchItemFailures: what a function's answer says failed
//! (docs/lambda-event-source-mappings.md §15).
//!
//! `{"batchItemFailures": [{"itemIdentifier": "<sequence number>"}, ...]}`: the records
//! from the lowest reported sequence number on are retried, the ones before it are done.
//! An empty list, a null list, an empty or null answer, or any answer that is not an
//! object mean complete success (recorded for `[]`, `None`, `{}`, `""`). An entry whose
//! identifier is empty, null, not a string or missing ("a bad key name", recorded even
//! for an integer) means the whole batch failed. An identifier that names no record of
//! the batch is taken as a complete failure too (AWS not recorded; LocalStack does so).

use serde_json::Value;

use super::batch::Batch;

/// What a ReportBatchItemFailures answer says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// Every record succeeded.
    Success,
    /// The records from this position of the batch on failed (0: all of them).
    FailedFrom(usize),
}

/// Reads `answer` (the function's response payload) against `batch`.
pub fn read(answer: &[u8], batch: &Batch) -> Reported {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(answer) else {
        return Reported::Success;
    };
    let failures = match map.get("batchItemFailures") {
        None | Some(Value::Null) => return Reported::Success,
        Some(Value::Array(items)) => items,
        // A report that is not a list: nothing in it can be trusted.
        Some(_) => return Reported::FailedFrom(0),
    };
    let mut lowest: Option<usize> = None;
    for item in failures {
        let id = item.get("itemIdentifier").and_then(Value::as_str).filter(|s| !s.is_empty());
        let Some(at) = id.and_then(|id| batch.index_of(id)) else {
            return Reported::FailedFrom(0);
        };
        lowest = Some(lowest.map_or(at, |l| l.min(at)));
    }
    lowest.map_or(Reported::Success, Reported::FailedFrom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::triggers::batch::EventRecord;

    fn batch() -> Batch {
        let mut b = Batch::default();
        for seq in 10..16u64 {
            b.push(EventRecord {
                seq,
                sequence_number: format!("{seq}00"),
                key_hash: 0,
                arrival_ms: 0,
                json: bytes::Bytes::from_static(b"{}"),
            });
        }
        b
    }

    #[test]
    fn success_forms_recorded_from_aws() {
        for answer in [
            &b""[..],
            b"null",
            b"[]",
            b"{}",
            b"\"\"",
            br#"{"batchItemFailures": []}"#,
            br#"{"batchItemFailures": null}"#,
            b"not json",
        ] {
            assert_eq!(
                read(answer, &batch()),
                Reported::Success,
                "{}",
                String::from_utf8_lossy(answer)
            );
        }
    }

    #[test]
    fn the_lowest_reported_record_is_where_the_retry_starts() {
        let answer =
            br#"{"batchItemFailures": [{"itemIdentifier": "1400"}, {"itemIdentifier": "1200"}]}"#;
        assert_eq!(read(answer, &batch()), Reported::FailedFrom(2));
        let answer = br#"{"batchItemFailures": [{"itemIdentifier": "1000"}]}"#;
        assert_eq!(read(answer, &batch()), Reported::FailedFrom(0));
    }

    #[test]
    fn bad_identifiers_fail_the_whole_batch() {
        for answer in [
            &br#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#[..],
            br#"{"batchItemFailures": [{"itemIdentifier": null}]}"#,
            br#"{"batchItemFailures": [{"foo": 123}]}"#,
            br#"{"batchItemFailures": [{"foo": null}]}"#,
            br#"{"batchItemFailures": [{"itemIdentifier": 123}]}"#,
            br#"{"batchItemFailures": [{"itemIdentifier": "999"}]}"#,
            br#"{"batchItemFailures": [{"itemIdentifier": "1300"}, {"itemIdentifier": ""}]}"#,
            br#"{"batchItemFailures": "1300"}"#,
        ] {
            assert_eq!(
                read(answer, &batch()),
                Reported::FailedFrom(0),
                "{}",
                String::from_utf8_lossy(answer)
            );
        }
    }
}
