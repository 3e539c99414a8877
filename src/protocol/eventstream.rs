//! `application/vnd.amazon.eventstream` framing for SubscribeToShard: prelude, headers,
//! payload and both CRC-32s, written by hand into one buffer and held by the tests to the
//! bytes of AWS's own codec (`aws-smithy-eventstream`) and to its decoder.
//!
//! Each message carries three string headers in the order a real AWS capture shows
//! (`:event-type` or `:exception-type`, then `:content-type`, then `:message-type`). The
//! payload is written in the request's codec: awsJson, or CBOR (typed by the
//! `SubscribeToShardEvent` shape, so `Data` is a byte string and the arrival time a tag-1
//! timestamp) with `:content-type: application/x-amz-cbor-1.1` for a CBOR request.
//! The first message is always the `initial-response` event that botocore, the Go SDK
//! and the Rust SDK wait for before anything else.

use bytes::Bytes;
use serde_json::{Value, json};

use super::cbor::{self, Shape, kinesis_shapes};
use super::{Codec, Service};

/// The response content type of an event stream.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// Frames events in one request's codec.
#[derive(Debug, Clone, Copy)]
pub struct EventWriter {
    codec: Codec,
}

impl EventWriter {
    pub fn new(codec: Codec) -> EventWriter {
        EventWriter { codec }
    }

    /// The `initial-response` event (SubscribeToShardOutput has no other members: `{}`).
    pub fn initial_response(&self) -> Bytes {
        self.event("initial-response", &json!({}))
    }

    /// An event whose payload is `body`, a `SubscribeToShardEvent` in awsJson form. A body
    /// that cannot be written becomes an InternalFailureException event instead.
    pub fn event(&self, event_type: &str, body: &Value) -> Bytes {
        let payload = match self.codec {
            Codec::Json => serde_json::to_vec(body).unwrap_or_default(),
            Codec::Cbor => {
                let shape = Shape::Structure(&kinesis_shapes::SUBSCRIBE_TO_SHARD_EVENT);
                match cbor::encode_shaped(&shape, body) {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        tracing::error!("event does not fit the model: {e}");
                        return self
                            .exception("InternalFailureException", "Internal Service Failure");
                    }
                }
            }
        };
        frame(":event-type", event_type, self.content_type(), "event", payload)
    }

    /// An event whose payload is already written in this writer's codec.
    pub fn event_payload(&self, event_type: &str, payload: Vec<u8>) -> Bytes {
        frame(":event-type", event_type, self.content_type(), "event", payload)
    }

    /// The writer's codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// A modelled exception event: payload `{"message": ...}`.
    pub fn exception(&self, code: &str, message: &str) -> Bytes {
        let body = json!({ "message": message });
        let payload = match self.codec {
            Codec::Json => serde_json::to_vec(&body).unwrap_or_default(),
            Codec::Cbor => cbor::encode_plain(&body),
        };
        frame(":exception-type", code, self.content_type(), "exception", payload)
    }

    fn content_type(&self) -> &'static str {
        self.codec.content_type(Service::Kinesis)
    }
}

/// One message with its three string headers, written straight into one buffer:
/// prelude (total length, headers length, their CRC-32), headers (name length, name,
/// type 7 = string, value length, value), payload, and the CRC-32 of all before it. The
/// same bytes `aws-smithy-eventstream`'s writer makes (the tests hold them to it and to
/// the spec's layout), without its per-message header strings and second copy of the
/// payload: a fan-out event is framed once per subscriber.
fn frame(
    type_header: &str,
    kind: &str,
    content_type: &str,
    message_type: &str,
    payload: Vec<u8>,
) -> Bytes {
    let headers =
        [(type_header, kind), (":content-type", content_type), (":message-type", message_type)];
    let headers_len: usize = headers.iter().map(|(n, v)| 4 + n.len() + v.len()).sum();
    let total = 12 + headers_len + payload.len() + 4;
    let fits = headers.iter().all(|(n, v)| n.len() <= 255 && v.len() <= usize::from(u16::MAX));
    let (Ok(total_len), Ok(header_len), true) =
        (u32::try_from(total), u32::try_from(headers_len), fits)
    else {
        // Only a payload past 4 GiB could fail; nothing sluice reads comes near.
        tracing::error!("event frame not written: {total} bytes");
        return Bytes::new();
    };
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&total_len.to_be_bytes());
    out.extend_from_slice(&header_len.to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    for (name, value) in headers {
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
        out.push(7);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out.extend_from_slice(&payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder, write_message_to};
    use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
    use proptest::prelude::*;

    use super::*;

    /// Golden frames, computed independently (Python's `zlib.crc32` over the layout in the
    /// spec: total length, headers length, prelude CRC, headers, payload, message CRC).
    const INITIAL_RESPONSE: &str = "0000007200000060ab820d9e0b3a6576656e742d74797065070010696e697469616c2d726573706f6e73650d3a636f6e74656e742d7479706507001a6170706c69636174696f6e2f782d616d7a2d6a736f6e2d312e310d3a6d6573736167652d747970650700056576656e747b7dacae6b7d";
    const IN_USE: &str = "0000008d0000006e865ee7150f3a657863657074696f6e2d747970650700165265736f75726365496e557365457863657074696f6e0d3a636f6e74656e742d7479706507001a6170706c69636174696f6e2f782d616d7a2d6a736f6e2d312e310d3a6d6573736167652d74797065070009657863657074696f6e7b226d657373616765223a2278227dcef16312";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The spec's layout, written by hand: what the codec must agree with.
    fn by_hand(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
        let mut h = Vec::new();
        for (name, value) in headers {
            h.push(name.len() as u8);
            h.extend_from_slice(name.as_bytes());
            h.push(7);
            h.extend_from_slice(&(value.len() as u16).to_be_bytes());
            h.extend_from_slice(value.as_bytes());
        }
        let total = (12 + h.len() + payload.len() + 4) as u32;
        let mut out = total.to_be_bytes().to_vec();
        out.extend_from_slice(&(h.len() as u32).to_be_bytes());
        out.extend_from_slice(&crc32fast::hash(&out).to_be_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(payload);
        out.extend_from_slice(&crc32fast::hash(&out).to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Message {
        match MessageFrameDecoder::new().decode_frame(bytes).unwrap() {
            DecodedFrame::Complete(m) => m,
            DecodedFrame::Incomplete => panic!("incomplete frame"),
        }
    }

    fn header<'a>(m: &'a Message, name: &str) -> &'a str {
        let h = m.headers().iter().find(|h| h.name().as_str() == name).unwrap();
        h.value().as_string().unwrap().as_str()
    }

    proptest! {
        /// The frames written by hand are the bytes AWS's own writer makes.
        #[test]
        fn frames_are_the_smithy_writers_bytes(
            kind in "[A-Za-z-]{1,40}",
            exception in any::<bool>(),
            payload in proptest::collection::vec(any::<u8>(), 0..2048),
        ) {
            let (type_header, message_type) =
                if exception { (":exception-type", "exception") } else { (":event-type", "event") };
            let content_type = "application/x-amz-json-1.1";
            let string = |s: &str| HeaderValue::String(s.to_string().into());
            let message = Message::new(payload.clone())
                .add_header(Header::new(type_header, string(&kind)))
                .add_header(Header::new(":content-type", string(content_type)))
                .add_header(Header::new(":message-type", string(message_type)));
            let mut want = Vec::new();
            write_message_to(&message, &mut want).unwrap();
            let got = frame(type_header, &kind, content_type, message_type, payload);
            prop_assert_eq!(&got[..], &want[..]);
        }
    }

    #[test]
    fn golden_frames() {
        let json = EventWriter::new(Codec::Json);
        let initial = json.initial_response();
        assert_eq!(hex(&initial), INITIAL_RESPONSE);
        let headers = [
            (":event-type", "initial-response"),
            (":content-type", "application/x-amz-json-1.1"),
            (":message-type", "event"),
        ];
        assert_eq!(initial.to_vec(), by_hand(&headers, b"{}"));
        assert_eq!(hex(&json.exception("ResourceInUseException", "x")), IN_USE);
    }

    #[test]
    fn events_decode_with_smithys_decoder() {
        let json = EventWriter::new(Codec::Json);
        let body =
            json!({"ContinuationSequenceNumber": "49", "MillisBehindLatest": 0, "Records": []});
        let frame = json.event("SubscribeToShardEvent", &body);
        let m = decode(&frame);
        assert_eq!(header(&m, ":event-type"), "SubscribeToShardEvent");
        assert_eq!(header(&m, ":message-type"), "event");
        assert_eq!(header(&m, ":content-type"), "application/x-amz-json-1.1");
        let order: Vec<&str> = m.headers().iter().map(|h| h.name().as_str()).collect();
        assert_eq!(order, [":event-type", ":content-type", ":message-type"]);
        assert_eq!(serde_json::from_slice::<Value>(m.payload()).unwrap(), body);
        // Several frames back to back split at their boundaries.
        let mut two = frame.to_vec();
        two.extend_from_slice(&json.exception("ResourceNotFoundException", "gone"));
        let mut decoder = MessageFrameDecoder::new();
        let mut buf = &two[..];
        let mut types = Vec::new();
        while let DecodedFrame::Complete(m) = decoder.decode_frame(&mut buf).unwrap() {
            types.push(header(&m, ":message-type").to_string());
        }
        assert_eq!(types, ["event", "exception"]);
    }

    #[test]
    fn cbor_events_type_data_as_bytes_and_times_as_tag_one() {
        let cbor = EventWriter::new(Codec::Cbor);
        let body = json!({
            "ContinuationSequenceNumber": "49",
            "MillisBehindLatest": 3,
            "Records": [{"SequenceNumber": "49", "ApproximateArrivalTimestamp": 1.5,
                         "Data": "aGk=", "PartitionKey": "k"}]
        });
        let m = decode(&cbor.event("SubscribeToShardEvent", &body));
        assert_eq!(header(&m, ":content-type"), "application/x-amz-cbor-1.1");
        let decoded = cbor::decode(m.payload()).unwrap();
        let text = format!("{decoded:?}");
        assert!(text.contains("Bytes([104, 105])"), "{text}");
        assert!(text.contains("Tag(1, Unsigned(1500))"), "{text}");
        assert_eq!(cbor::to_json(decoded.clone()).unwrap()["Records"][0]["Data"], "aGk=");
        let m = decode(&cbor.exception("ResourceInUseException", "busy"));
        assert_eq!(header(&m, ":exception-type"), "ResourceInUseException");
        assert_eq!(cbor::to_json(cbor::decode(m.payload()).unwrap()).unwrap()["message"], "busy");
        let m = decode(&cbor.initial_response());
        assert_eq!(m.payload().as_ref(), [0xa0]);
    }
}
