//! A small HTTP/1.1 client for the servers sluice calls (an Invoke-API URL, the
//! `lambda.endpoint`, on-failure destinations, an external DynamoDB source): keep-alive
//! connections kept in a short idle list, one exchange under one deadline, and every
//! answer read only up to a limit, so a server outside sluice never decides how much
//! memory sluice takes or how long a caller waits.
//!
//! A connection has no task of its own: the caller's exchange polls its driver beside the
//! request, so an invocation wakes one task instead of handing the request to a
//! connection task and the answer back (with ten mappings, a quarter of the pollers' time
//! went to those hand-offs). An idle connection is polled by nobody; one the server closed
//! meanwhile is found closed when next taken, before anything is sent on it.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Mutex;
use std::task::Poll;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::HeaderMap;
use hyper::client::conn::http1::SendRequest;
use tokio::time::Instant;

use crate::engine::remote_tls::Driver;

/// Idle connections kept per server: as many as the invocations that may be in flight to
/// it at once (every shard of every mapping on a `lambda.endpoint`), so a burst never
/// closes connections only to open them again for the next one (with 16, ten mappings at
/// 1,000 writes/s opened a thousand connections a second). Each costs a socket and a few
/// KiB; one the server closed is dropped when next taken.
const MAX_IDLE: usize = 256;

/// A whole answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("connection to {0} failed: {1}")]
    Connection(String, String),
    #[error("no answer from {0} in time")]
    Timeout(String),
    /// The answer declared or sent more than the limit: refused unread.
    #[error("{0} answered more than {1} bytes")]
    TooLarge(String, usize),
}

/// One server, by host and port.
pub struct HttpClient {
    /// Where to connect (an IPv6 literal in brackets), and whether over TLS.
    host: String,
    port: u16,
    tls: bool,
    /// The `Host` header.
    pub authority: String,
    idle: Mutex<Vec<Connection>>,
}

/// A connection: its sender, and the driver its exchanges poll ([`drive`]), `None` once
/// the connection closed.
struct Connection {
    sender: SendRequest<Full<Bytes>>,
    driver: Option<Driver>,
}

/// Runs `work` (something of the connection whose driver this is: the request, the
/// answer's body, its readiness) while polling the driver, which does the connection's
/// reads and writes. The driver goes first, then the work, then both once more: the work
/// may have handed the driver something (a request to write), which it then takes at
/// once. A driver that finished (the connection closed) is dropped at once, as a task of
/// its own would be: that fails whatever was still asked of the connection.
async fn drive<F: Future>(driver: &mut Option<Driver>, work: F) -> F::Output {
    let mut work = pin!(work);
    poll_fn(|cx| {
        for _ in 0..2 {
            if driver.as_mut().is_some_and(|d| d.as_mut().poll(cx).is_ready()) {
                *driver = None;
            }
            if let Poll::Ready(out) = work.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
        }
        Poll::Pending
    })
    .await
}

impl HttpClient {
    /// A client for `host` (as a URL writes it) and `port`, over TLS when `tls`.
    pub fn new(host: &str, port: u16, tls: bool) -> HttpClient {
        let default = if tls { 443 } else { 80 };
        let authority = if port == default { host.to_string() } else { format!("{host}:{port}") };
        HttpClient { host: host.to_string(), port, tls, authority, idle: Mutex::new(Vec::new()) }
    }

    /// A client for the server of `url` (`http://` or `https://`).
    pub fn for_url(url: &str) -> Option<HttpClient> {
        let u = crate::engine::remote_tls::split_url(url)?;
        Some(HttpClient::new(u.host, u.port, u.tls))
    }

    fn fail(&self, e: impl ToString) -> HttpError {
        HttpError::Connection(self.authority.clone(), e.to_string())
    }

    async fn connect(&self) -> Result<Connection, HttpError> {
        let (sender, driver) =
            crate::engine::remote_tls::connect_driven(&self.host, self.port, self.tls)
                .await
                .map_err(|e| self.fail(e))?;
        Ok(Connection { sender, driver: Some(driver) })
    }

    /// A kept connection ready for a request: one the server closed while it was idle
    /// shows it now (its driver reads the end) and is dropped.
    async fn take_idle(&self) -> Option<Connection> {
        loop {
            let mut c = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()?;
            if c.driver.is_some() && drive(&mut c.driver, c.sender.ready()).await.is_ok() {
                return Some(c);
            }
        }
    }

    /// Sends the request `build` makes (built again for a retry on a fresh connection
    /// when a kept one turns out closed) and reads the answer's body up to `limit`
    /// bytes, all before `deadline`.
    pub async fn send(
        &self,
        build: impl Fn() -> hyper::Request<Full<Bytes>>,
        limit: usize,
        deadline: Instant,
    ) -> Result<Answer, HttpError> {
        match tokio::time::timeout_at(deadline, self.exchange(build, limit)).await {
            Ok(result) => result,
            // The dropped exchange took its connection with it.
            Err(_) => Err(HttpError::Timeout(self.authority.clone())),
        }
    }

    async fn exchange(
        &self,
        build: impl Fn() -> hyper::Request<Full<Bytes>>,
        limit: usize,
    ) -> Result<Answer, HttpError> {
        let (mut connection, reused) = match self.take_idle().await {
            Some(c) => (c, true),
            None => (self.connect().await?, false),
        };
        let c = &mut connection;
        let response = match drive(&mut c.driver, c.sender.send_request(build())).await {
            Ok(r) => r,
            // A kept-alive connection the server closed as it was taken: one fresh try.
            Err(_) if reused => {
                connection = self.connect().await?;
                let c = &mut connection;
                drive(&mut c.driver, c.sender.send_request(build()))
                    .await
                    .map_err(|e| self.fail(e))?
            }
            Err(e) => return Err(self.fail(e)),
        };
        let status = response.status().as_u16();
        let too_large = || HttpError::TooLarge(self.authority.clone(), limit);
        let declared = response.headers().get(hyper::header::CONTENT_LENGTH);
        if declared
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|n| n > limit as u64)
        {
            // Dropping the connection with the response closes it unread.
            return Err(too_large());
        }
        let (parts, body) = response.into_parts();
        let c = &mut connection;
        let body =
            drive(&mut c.driver, Limited::new(body, limit).collect()).await.map_err(|e| {
                match e.downcast_ref::<LengthLimitError>() {
                    Some(_) => too_large(),
                    None => self.fail(e),
                }
            })?;
        if connection.driver.is_some() {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(connection);
            }
        }
        Ok(Answer { status, headers: parts.headers, body: body.to_bytes() })
    }
}

/// `text` cut to at most `max` bytes on a character boundary (remote words go into
/// errors and logs).
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut at = max;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    format!("{}…", &text[..at])
}

/// `s` percent-encoded for a URL path segment (RFC 3986 unreserved characters kept,
/// every other byte `%XX`): also SigV4's canonical URI and query encoding.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            crate::hex::push_upper(&mut out, &[b]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_truncation() {
        assert_eq!(
            encode_segment("arn:aws:lambda:f:$LATEST"),
            "arn%3Aaws%3Alambda%3Af%3A%24LATEST"
        );
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("abc", 3), "abc");
        let c = HttpClient::new("[::1]", 9000, false);
        assert_eq!((c.host.as_str(), c.authority.as_str()), ("[::1]", "[::1]:9000"));
        assert_eq!(HttpClient::new("h", 80, false).authority, "h");
        assert_eq!(HttpClient::new("h", 443, true).authority, "h");
        assert_eq!(HttpClient::new("h", 80, true).authority, "h:80");
        let c = HttpClient::for_url("https://lambda.us-east-1.amazonaws.com").unwrap();
        assert_eq!(
            (c.tls, c.port, c.authority.as_str()),
            (true, 443, "lambda.us-east-1.amazonaws.com")
        );
    }

    /// A server that answers every request `{}` and closes each connection after
    /// `per_connection` answers (without saying so); returns its port and a count of the
    /// connections it accepted.
    async fn plain_server(
        per_connection: usize,
    ) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = std::sync::Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    for _ in 0..per_connection {
                        // Requests here carry no body: each ends with its blank line.
                        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                            match socket.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => seen.extend_from_slice(&buf[..n]),
                            }
                        }
                        let end = seen.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                        seen.drain(..end);
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
                        if socket.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (port, accepted)
    }

    async fn get(client: &HttpClient) -> Result<Answer, HttpError> {
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let build = || {
            hyper::Request::get("/")
                .header("host", &client.authority)
                .body(Full::new(Bytes::new()))
                .unwrap()
        };
        client.send(build, 1024, deadline).await
    }

    #[tokio::test]
    async fn a_kept_connection_is_reused_and_one_the_server_closed_is_replaced() {
        use std::sync::atomic::Ordering;
        let (port, accepted) = plain_server(usize::MAX).await;
        let client = HttpClient::new("127.0.0.1", port, false);
        for _ in 0..5 {
            assert_eq!(&get(&client).await.unwrap().body[..], b"{}");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection for all five");

        // A server that hangs up after each answer: the next exchange finds the kept
        // connection closed when it takes it, and opens another.
        let (port, accepted) = plain_server(1).await;
        let client = HttpClient::new("127.0.0.1", port, false);
        for n in 1..=3 {
            assert_eq!(&get(&client).await.unwrap().body[..], b"{}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            assert_eq!(accepted.load(Ordering::SeqCst), n);
        }
    }
}
