//! PutRecords' awsJson answer, written by hand: the same bytes as serde_json's, without
//! its byte-by-byte escape scan of up to 500 sequence numbers and shard ids that are
//! digits all (1,360 instructions an entry through serde; BENCHMARKS.md, "Records in runs").

use super::records::{PutRecordsOutput, PutRecordsResultEntry};
use crate::api::{Form, Output};
use crate::engine::kinesis::meta::shard_id_bytes;

/// PutRecords' output in `form`: awsJson by hand, the tree through serde.
pub fn put_records_output(
    output: &PutRecordsOutput,
    form: Form,
) -> Result<Output, serde_json::Error> {
    if form == Form::Tree {
        return Output::of(output, form);
    }
    let mut out = Vec::with_capacity(64 + output.records.len() * 100);
    out.extend_from_slice(b"{\"FailedRecordCount\":");
    out.extend_from_slice(output.failed_record_count.to_string().as_bytes());
    out.extend_from_slice(b",\"Records\":[");
    for (i, entry) in output.records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_entry(&mut out, entry)?;
    }
    out.push(b']');
    if let Some(kind) = output.encryption_type {
        member(&mut out, b",\"EncryptionType\":", kind)?;
    }
    out.push(b'}');
    Ok(Output::Json(out))
}

/// One result entry, its members in declaration order, absent ones left out (as serde's
/// `skip_serializing_if` does).
fn write_entry(out: &mut Vec<u8>, e: &PutRecordsResultEntry) -> Result<(), serde_json::Error> {
    out.push(b'{');
    let mut first = true;
    let mut next = |out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
    };
    // Digits and `shardId-`: copied as they are, no escape to look for.
    if let Some(seq) = e.sequence_number {
        next(out);
        out.extend_from_slice(b"\"SequenceNumber\":\"");
        out.extend_from_slice(&seq.digits());
        out.push(b'"');
    }
    if let Some(shard) = e.shard_id {
        next(out);
        out.extend_from_slice(b"\"ShardId\":\"");
        out.extend_from_slice(&shard_id_bytes(shard.0));
        out.push(b'"');
    }
    let rest: [(&[u8], Option<&str>); 2] =
        [(b"\"ErrorCode\":", e.error_code), (b"\"ErrorMessage\":", e.error_message.as_deref())];
    for (name, value) in rest {
        let Some(value) = value else { continue };
        next(out);
        member(out, name, value)?;
    }
    out.push(b'}');
    Ok(())
}

/// `name` (already quoted, with its colon) and `value` as a JSON string.
fn member(out: &mut Vec<u8>, name: &[u8], value: &str) -> Result<(), serde_json::Error> {
    out.extend_from_slice(name);
    // Printable ASCII other than `"` and `\` needs no escape: written as it is. Anything
    // else (an error message naming a stream) goes through serde_json's escaping.
    if plain(value) {
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(&mut *out, value)
    }
}

/// Whether `value` is printable ASCII without `"` or `\\`. Every byte is looked at (no
/// early exit), so the check runs over many bytes at a time.
fn plain(value: &str) -> bool {
    let escaped = |b: u8| !(0x20..0x7f).contains(&b) || b == b'"' || b == b'\\';
    value.bytes().fold(true, |plain, b| plain & !escaped(b))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::api::kinesis::records::WireShardId;
    use crate::engine::kinesis::seqno::SeqNo;

    fn entry() -> impl Strategy<Value = PutRecordsResultEntry> {
        let text = proptest::option::of("\\PC{0,12}|[\"\\\\\u{1}\u{7f}é0-9]{0,6}");
        let code = proptest::option::of(Just("ProvisionedThroughputExceededException"));
        let seq =
            proptest::option::of(
                (any::<u64>(), any::<u32>(), any::<u64>())
                    .prop_map(|(stream_id, shard, seq)| SeqNo { stream_id, shard, seq }),
            );
        let shard = proptest::option::of(any::<u32>().prop_map(WireShardId));
        (seq, shard, code, text).prop_map(|(seq, shard, code, message)| PutRecordsResultEntry {
            sequence_number: seq,
            shard_id: shard,
            error_code: code,
            error_message: message,
        })
    }

    proptest! {
        #[test]
        fn the_answer_is_serde_jsons_bytes(
            failed in 0usize..600,
            records in proptest::collection::vec(entry(), 0..6),
            kms in any::<bool>(),
        ) {
            let output = PutRecordsOutput {
                failed_record_count: failed,
                records,
                encryption_type: kms.then_some("KMS"),
            };
            let Output::Json(bytes) = put_records_output(&output, Form::Json).unwrap() else {
                return Err(TestCaseError::fail("not bytes"));
            };
            prop_assert_eq!(
                String::from_utf8(bytes).unwrap(),
                serde_json::to_string(&output).unwrap()
            );
            let Output::Tree(tree) = put_records_output(&output, Form::Tree).unwrap() else {
                return Err(TestCaseError::fail("not a tree"));
            };
            prop_assert_eq!(tree, serde_json::to_value(&output).unwrap());
        }
    }
}
