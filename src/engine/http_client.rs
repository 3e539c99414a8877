//! A small HTTP/1.1 client for the servers sluice calls (an Invoke-API URL, the
//! `lambda.endpoint`, on-failure destinations, an external DynamoDB source): keep-alive connections kept in a short idle list, one exchange
//! under one deadline, and every answer read only up to a limit, so a server outside
//! sluice never decides how much memory sluice takes or how long a caller waits.

use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::HeaderMap;
use hyper::client::conn::http1::SendRequest;
use tokio::time::Instant;

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
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
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

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, HttpError> {
        crate::engine::remote_tls::connect(&self.host, self.port, self.tls)
            .await
            .map_err(|e| self.fail(e))
    }

    fn take_idle(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(sender) = idle.pop() {
            if sender.is_ready() {
                return Some(sender);
            }
        }
        None
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
        let (mut sender, reused) = match self.take_idle() {
            Some(s) => (s, true),
            None => (self.connect().await?, false),
        };
        let response = match sender.send_request(build()).await {
            Ok(r) => r,
            // A kept-alive connection the server closed while idle: one fresh try.
            Err(_) if reused => {
                sender = self.connect().await?;
                sender.send_request(build()).await.map_err(|e| self.fail(e))?
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
            // Dropping the sender with the response closes the connection unread.
            return Err(too_large());
        }
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, limit).collect().await.map_err(|e| match e
            .downcast_ref::<LengthLimitError>()
        {
            Some(_) => too_large(),
            None => self.fail(e),
        })?;
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(sender);
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

/// `s` percent-encoded for a URL path segment (RFC 3986 unreserved characters kept).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
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
}
