//! SubscribeToShard's response: the `initial-response` event first, then each event of
//! the subscription framed in the request's codec as the connection asks for it. The
//! stream is pulled, never pushed into a buffer: while the client does not read (HTTP/2
//! flow control, a full socket), nothing is read for it, and it resumes from storage.

use futures_util::StreamExt;
use futures_util::stream::{once, unfold};
use hyper::Response;

use crate::api::kinesis::subscribe::{EventSource, StreamEvent};
use crate::protocol::Codec;
use crate::protocol::eventstream::EventWriter;
use crate::protocol::response::{self, Body};

/// The event-stream response of an open subscription.
pub fn respond(source: EventSource, codec: Codec, request_id: &str) -> Response<Body> {
    let writer = EventWriter::new(codec);
    let initial = writer.initial_response();
    let events = unfold(source, move |mut source| async move {
        let frame = match source.next().await? {
            StreamEvent::Event(body) => writer.event("SubscribeToShardEvent", &body),
            StreamEvent::Exception { code, message } => writer.exception(code, &message),
        };
        Some((frame, source))
    });
    response::event_stream(once(async move { initial }).chain(events), request_id)
}
