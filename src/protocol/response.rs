//! Building API responses (awsJson, or CBOR for Kinesis): content type, request id and,
//! for DynamoDB, the `x-amz-crc32` its clients verify; and SubscribeToShard's event
//! stream, whose body is written as its events come.
//!
//! Every response shares one boxed body type. A whole body keeps its exact size hint, so
//! hyper still writes `Content-Length` for it and answers byte for byte as before; an
//! event stream has none, so HTTP/1.1 sends it chunked and HTTP/2 as DATA frames.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::Stream;
use futures_util::stream::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::Response;
use hyper::body::Frame;
use hyper::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, SERVER};

use super::Service;
use super::encoding::{self, Coding, MIN_COMPRESSED_BYTES};

/// The response body type of every handler.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A whole body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A 200 `application/vnd.amazon.eventstream` response whose body is `frames`, each
/// written (and flushed) as it comes; the body ends when `frames` does.
pub fn event_stream(
    frames: impl Stream<Item = Bytes> + Send + 'static,
    request_id: &str,
) -> Response<Body> {
    let pieces = in_pieces(frames);
    let body = StreamBody::new(pieces.map(|f| Ok::<_, Infallible>(Frame::data(f))));
    Response::builder()
        .status(200)
        .header(CONTENT_TYPE, super::eventstream::CONTENT_TYPE)
        .header("x-amzn-RequestId", request_id)
        .body(body.boxed_unsync())
        .unwrap_or_else(|_| plain(500, "internal error"))
}

/// Most bytes of a frame handed to the connection at once.
const PIECE_BYTES: usize = 64 * 1024;

/// `frames`, a large one handed over in pieces of [`PIECE_BYTES`], each copied out of
/// it, so its buffer is freed once its last piece is handed over. The connection takes
/// the next piece as soon as it has taken one, whether or not the client reads: whole,
/// an event of a subscriber that stopped reading (MiBs while it catches up) would sit in
/// the HTTP/2 send buffer while the next one was read and encoded behind it. In pieces,
/// an unread stream holds one event and the send buffer. A small frame goes whole.
fn in_pieces(frames: impl Stream<Item = Bytes> + Send + 'static) -> impl Stream<Item = Bytes> {
    let frames = Box::pin(frames);
    futures_util::stream::unfold((frames, Bytes::new()), |(mut frames, mut rest)| async move {
        if rest.is_empty() {
            let frame = frames.next().await?;
            if frame.len() <= PIECE_BYTES {
                return Some((frame, (frames, rest)));
            }
            rest = frame;
        }
        let take = rest.len().min(PIECE_BYTES);
        let piece = Bytes::copy_from_slice(&rest[..take]);
        rest = if take == rest.len() { Bytes::new() } else { rest.slice(take..) };
        Some((piece, (frames, rest)))
    })
}

/// An awsJson response with `body` already serialized.
pub fn json(service: Service, status: u16, body: Vec<u8>, request_id: &str) -> Response<Body> {
    encoded(service, service.content_type(), status, body, request_id, None)
}

/// An API response with `body` already encoded as `content_type` (the request's codec),
/// compressed with `coding` (the one the request's `Accept-Encoding` asked for) when it
/// is [`MIN_COMPRESSED_BYTES`] or more. DynamoDB's answers name their `Server`, as
/// DynamoDB's do; its CRC32 is of the bytes sent.
pub fn encoded(
    service: Service,
    content_type: &'static str,
    status: u16,
    body: Vec<u8>,
    request_id: &str,
    coding: Option<Coding>,
) -> Response<Body> {
    let coding = coding.filter(|_| body.len() >= MIN_COMPRESSED_BYTES);
    let body = match coding {
        Some(coding) => encoding::compress(coding, &body),
        None => body,
    };
    let mut builder = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type)
        .header(CONTENT_LENGTH, body.len())
        .header("x-amzn-RequestId", request_id);
    if let Some(coding) = coding {
        builder = builder.header(CONTENT_ENCODING, coding.name());
    }
    if matches!(service, Service::DynamoDb | Service::DynamoDbStreams) {
        builder = builder.header(SERVER, "Server");
    }
    if service.sends_crc32() {
        builder = builder.header("x-amz-crc32", crc32fast::hash(&body).to_string());
    }
    builder.body(full(body)).unwrap_or_else(|_| plain(500, "internal error"))
}

/// A plain-text response (health, metrics, odd requests).
pub fn plain(status: u16, text: &'static str) -> Response<Body> {
    let mut response = Response::new(full(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

/// A plain-text response with an owned body and content type.
pub fn text(status: u16, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamodb_carries_crc32_of_the_exact_body() {
        let r = json(Service::DynamoDb, 200, b"{}".to_vec(), "ID");
        // crc32("{}") = 2745614147, the value DynamoDB sends for an empty object.
        assert_eq!(r.headers()["x-amz-crc32"], "2745614147");
        assert_eq!(r.headers()["content-type"], "application/x-amz-json-1.0");
        let r = json(Service::Kinesis, 200, b"{}".to_vec(), "ID");
        assert!(r.headers().get("x-amz-crc32").is_none());
    }

    #[test]
    fn cbor_answers_carry_the_cbor_content_type() {
        let r =
            encoded(Service::Kinesis, "application/x-amz-cbor-1.1", 400, vec![0xa0], "ID", None);
        assert_eq!(r.headers()["content-type"], "application/x-amz-cbor-1.1");
        assert_eq!(r.headers()["content-length"], "1");
        assert_eq!(r.status(), 400);
    }

    #[tokio::test]
    async fn a_large_frame_goes_in_pieces_copied_out_of_it_and_a_small_one_whole() {
        let big = Bytes::from((0..PIECE_BYTES * 2 + 10).map(|i| i as u8).collect::<Vec<_>>());
        let small = Bytes::from_static(b"small");
        let frames = futures_util::stream::iter([big.clone(), small.clone()]);
        let pieces: Vec<Bytes> = in_pieces(frames).collect().await;
        let sizes: Vec<usize> = pieces.iter().map(Bytes::len).collect();
        assert_eq!(sizes, [PIECE_BYTES, PIECE_BYTES, 10, 5]);
        assert_eq!(pieces[..3].concat(), big.to_vec());
        // No piece keeps the large frame's buffer alive.
        let range = big.as_ptr_range();
        assert!(pieces[..3].iter().all(|p| !range.contains(&p.as_ptr())));
        assert_eq!(pieces[3], small);
    }

    #[test]
    fn whole_bodies_keep_their_exact_size_and_streams_have_none() {
        use hyper::body::Body as _;
        let r = plain(200, "ok\n");
        assert_eq!(r.body().size_hint().exact(), Some(3));
        let frames = futures_util::stream::iter([Bytes::from_static(b"a")]);
        let r = event_stream(frames, "ID");
        assert_eq!(r.headers()["content-type"], "application/vnd.amazon.eventstream");
        assert_eq!(r.body().size_hint().exact(), None);
    }
}
