//! The benchmark's AWS client: awsJson requests signed with SigV4 as the SDKs sign them
//! (the signer the bridge uses for remote Kinesis), sent over plain HTTP/1.1 keep-alive
//! connections with one request in flight each, and errors named by their `__type`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

use crate::engine::bridge::remote::sigv4::{self, Signer};

/// Longest any request waits for its answer: a server that accepts and never answers
/// then fails the request (a connection error) instead of hanging the run or its setup.
const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Where requests go: the address to connect to and the `Host` the signature covers.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub host: String,
}

impl Endpoint {
    /// `http://host:port`, `host:port` or `http://host:port/`. TLS is not spoken.
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        if text.starts_with("https://") {
            return Err(format!("{text}: https endpoints are not supported; use http://"));
        }
        let host = text.trim_start_matches("http://").trim_end_matches('/');
        if host.is_empty() || host.contains('/') {
            return Err(format!("{text}: expected http://host:port"));
        }
        let with_port = if host.contains(':') && !host.ends_with(']') {
            host.to_string()
        } else {
            format!("{host}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("{text}: {e}"))?
            .next()
            .ok_or_else(|| format!("{text}: no address"))?;
        Ok(Endpoint { addr, host: host.to_string() })
    }
}

/// The credentials and region requests are signed with.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

/// Signs and sends requests to one endpoint; cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    pub endpoint: Arc<Endpoint>,
    pub creds: Arc<Credentials>,
}

/// The signing name and content type of an `X-Amz-Target` prefix. DynamoDB Streams signs
/// as `dynamodb`, as botocore's model says.
fn service_of(target: &str) -> (&'static str, &'static str) {
    if target.starts_with("Kinesis_") {
        ("kinesis", "application/x-amz-json-1.1")
    } else {
        ("dynamodb", "application/x-amz-json-1.0")
    }
}

impl Client {
    pub fn new(endpoint: Endpoint, creds: Credentials) -> Client {
        Client { endpoint: Arc::new(endpoint), creds: Arc::new(creds) }
    }

    /// A signed POST of `body` to `target`. `absolute` gives the URI scheme and authority
    /// (HTTP/2 needs them; an HTTP/1.1 request line carries the path only).
    pub fn request(
        &self,
        target: &str,
        body: Vec<u8>,
        absolute: bool,
    ) -> hyper::Request<Full<Bytes>> {
        let (service, content_type) = service_of(target);
        let signer = Signer {
            access_key_id: &self.creds.access_key,
            secret_access_key: &self.creds.secret_key,
            region: &self.creds.region,
            service,
        };
        let host = self.endpoint.host.as_str();
        let headers = sigv4::signed_json_post(
            &signer,
            host,
            content_type,
            target,
            &body,
            crate::clock::wall_micros() / 1000,
        );
        let uri = if absolute { format!("http://{host}/") } else { "/".to_string() };
        let mut builder = hyper::Request::post(uri);
        for (name, value) in headers {
            // HTTP/2 carries the host as :authority; a `host` header there is refused by
            // some servers, and the signature covers the same value either way.
            if !(absolute && name == "host") {
                builder = builder.header(name, value);
            }
        }
        builder
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| hyper::Request::new(Full::new(Bytes::new())))
    }

    /// A keep-alive connection (opened on first use).
    pub fn conn(&self) -> Conn {
        Conn { client: self.clone(), sender: None }
    }

    /// One call on a fresh connection: for setup and cleanup.
    pub async fn call(&self, target: &str, body: &Value) -> Result<Value, Failure> {
        self.conn().call(target, body).await
    }

    /// One restJson1 call of the Lambda API (`method` `path`, a JSON body or none), signed
    /// for service `lambda`, on a fresh connection: for setup and cleanup.
    pub async fn lambda(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let payload = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let signer = Signer {
            access_key_id: &self.creds.access_key,
            secret_access_key: &self.creds.secret_key,
            region: &self.creds.region,
            service: "lambda",
        };
        let host = self.endpoint.host.as_str();
        let date = sigv4::amz_date(crate::clock::wall_micros() / 1000);
        let headers = [("content-type", "application/json"), ("host", host), ("x-amz-date", &date)];
        let request =
            sigv4::Request { method, path, query: "", headers: &headers, payload: &payload };
        let authorization = signer.authorization(&request, &date);
        let mut builder = hyper::Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let request = builder
            .header("authorization", authorization)
            .body(Full::new(Bytes::from(payload)))
            .map_err(|e| Failure::NotSent(e.to_string()))?;
        let conn = self.conn();
        let mut sender = conn.connect().await?;
        let call = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| Failure::Transport(e.to_string()))?;
            let status = response.status().as_u16();
            let header = response
                .headers()
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| Failure::Transport(e.to_string()))?
                .to_bytes();
            if status >= 300 {
                let kind = error_type(status, header.as_deref(), &body);
                return Err(Failure::Api { status, kind, message: compact(&body) });
            }
            Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
        };
        tokio::time::timeout(ANSWER_TIMEOUT, call)
            .await
            .unwrap_or_else(|_| Err(Failure::Transport("no answer".into())))
    }
}

/// An answer as it came back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub error_type: Option<String>,
    pub body: Bytes,
}

/// Why a call did not succeed.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The endpoint answered with an error: its short `__type` and message.
    Api { status: u16, kind: String, message: String },
    /// No connection could be made: the request never left.
    NotSent(String),
    /// No answer: sending or reading failed, so the request may have been acted on.
    Transport(String),
}

impl Failure {
    /// The name errors are counted under.
    pub fn kind(&self) -> String {
        match self {
            Failure::Api { kind, .. } => kind.clone(),
            Failure::NotSent(_) | Failure::Transport(_) => "connection error".into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Api { status, kind, message } => {
                write!(f, "{kind} (HTTP {status}): {message}")
            }
            Failure::NotSent(e) => write!(f, "connection error (not sent): {e}"),
            Failure::Transport(e) => write!(f, "connection error: {e}"),
        }
    }
}

/// The short error name of an answer: `x-amzn-ErrorType` or the body's `__type`, without
/// the namespace before `#` (peers differ in which they send), else `HTTP <status>`.
pub fn error_type(status: u16, header: Option<&str>, body: &[u8]) -> String {
    let short = |t: &str| {
        let t = t.split(':').next().unwrap_or(t);
        t.rsplit('#').next().unwrap_or(t).to_string()
    };
    if let Some(t) = header.filter(|t| !t.is_empty()) {
        return short(t);
    }
    if let Some(t) = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("__type").and_then(Value::as_str).map(short))
    {
        return t;
    }
    // dynalite answers an unknown target with a bare `<UnknownOperationException/>`.
    let text = String::from_utf8_lossy(body);
    let tag = text.trim().strip_prefix('<').and_then(|t| t.strip_suffix("/>"));
    match tag {
        Some(t) if !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric()) => t.to_string(),
        _ => format!("HTTP {status}"),
    }
}

/// A non-JSON answer (an HTML error page) on one short line.
fn compact(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 160 {
        format!("{}...", line.chars().take(160).collect::<String>())
    } else {
        line
    }
}

/// One HTTP/1.1 connection, one request in flight; reconnects after a transport failure.
pub struct Conn {
    client: Client,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, Failure> {
        let tcp = TcpStream::connect(self.client.endpoint.addr)
            .await
            .map_err(|e| Failure::NotSent(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| Failure::NotSent(e.to_string()))?;
        tokio::spawn(connection);
        Ok(sender)
    }

    /// Sends `body` to `target` and reads the whole answer, within `ANSWER_TIMEOUT`.
    pub async fn send(&mut self, target: &str, body: Vec<u8>) -> Result<Reply, Failure> {
        self.send_within(target, body, ANSWER_TIMEOUT).await
    }

    /// `send`, giving up after `limit` (the connection is dropped then, as after any
    /// failure): for callers that must not wait on a server that was killed.
    pub async fn send_within(
        &mut self,
        target: &str,
        body: Vec<u8>,
        limit: std::time::Duration,
    ) -> Result<Reply, Failure> {
        let result = match tokio::time::timeout(limit, self.try_send(target, body)).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Transport(format!("no answer within {limit:?}"))),
        };
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    async fn try_send(&mut self, target: &str, body: Vec<u8>) -> Result<Reply, Failure> {
        // A kept connection the server has closed meanwhile is replaced before sending,
        // so a failure past this point means the request may have left.
        let reusable = match self.sender.as_mut() {
            Some(s) if !s.is_closed() => s.ready().await.is_ok(),
            _ => false,
        };
        if !reusable {
            let mut fresh = self.connect().await?;
            fresh.ready().await.map_err(|e| Failure::NotSent(e.to_string()))?;
            self.sender = Some(fresh);
        }
        let Some(sender) = self.sender.as_mut() else {
            return Err(Failure::NotSent("not connected".into()));
        };
        let request = self.client.request(target, body, false);
        let response =
            sender.send_request(request).await.map_err(|e| Failure::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let header = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Failure::Transport(e.to_string()))?
            .to_bytes();
        let error_type = (status >= 300).then(|| error_type(status, header.as_deref(), &body));
        Ok(Reply { status, error_type, body })
    }

    /// A JSON call: the parsed answer, or the failure with the answer's `__type`.
    pub async fn call(&mut self, target: &str, body: &Value) -> Result<Value, Failure> {
        let reply = self.send(target, body.to_string().into_bytes()).await?;
        if let Some(kind) = reply.error_type {
            let message = serde_json::from_slice::<Value>(&reply.body)
                .ok()
                .and_then(|v| {
                    v.get("message")
                        .or_else(|| v.get("Message"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_else(|| compact(&reply.body));
            return Err(Failure::Api { status: reply.status, kind, message });
        }
        if reply.body.is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_slice(&reply.body).map_err(|e| Failure::Api {
            status: reply.status,
            kind: "invalid JSON answer".into(),
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_lose_their_namespace() {
        let body = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"x"}"#;
        assert_eq!(error_type(400, None, body), "ResourceNotFoundException");
        assert_eq!(
            error_type(400, Some("ThrottlingException:http://internal"), b""),
            "ThrottlingException"
        );
        assert_eq!(
            error_type(400, None, br#"{"__type":"ValidationException"}"#),
            "ValidationException"
        );
        assert_eq!(error_type(502, None, b"<html>"), "HTTP 502");
        assert_eq!(
            error_type(404, None, b"<UnknownOperationException/>\n"),
            "UnknownOperationException"
        );
        assert_eq!(
            compact(b"<html>\n  <title>500</title>\n</html>"),
            "<html> <title>500</title> </html>"
        );
    }

    /// A server that accepts and never answers fails the request, it does not hang it.
    #[tokio::test]
    async fn a_silent_server_fails_the_request() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                open.push(stream);
            }
        });
        let creds =
            Credentials { access_key: "a".into(), secret_key: "s".into(), region: "r".into() };
        let mut conn = Client::new(Endpoint { addr, host: addr.to_string() }, creds).conn();
        let limit = std::time::Duration::from_millis(200);
        let result = conn.send_within("DynamoDB_20120810.PutItem", b"{}".to_vec(), limit).await;
        assert!(matches!(result, Err(Failure::Transport(_))), "{result:?}");
    }

    #[test]
    fn endpoints_parse_with_or_without_scheme() {
        let e = Endpoint::parse("http://127.0.0.1:8000/").unwrap();
        assert_eq!(
            (e.addr.to_string().as_str(), e.host.as_str()),
            ("127.0.0.1:8000", "127.0.0.1:8000")
        );
        assert_eq!(Endpoint::parse("localhost:4567").unwrap().addr.port(), 4567);
        assert!(Endpoint::parse("https://x:1").is_err());
    }

    /// A DynamoDB request signs like botocore's SigV4Auth on the same inputs: the header
    /// set and canonical form the SDKs send (checked by signing with the pinned date).
    #[test]
    fn requests_carry_a_well_formed_signature() {
        let client = Client::new(
            Endpoint::parse("127.0.0.1:8000").unwrap(),
            Credentials {
                access_key: "test".into(),
                secret_key: "test".into(),
                region: "eu-west-1".into(),
            },
        );
        let r = client.request("DynamoDB_20120810.PutItem", b"{}".to_vec(), false);
        let auth = r.headers()["authorization"].to_str().unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=test/"), "{auth}");
        assert!(auth.contains("/eu-west-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="));
        assert_eq!(r.headers()["content-type"], "application/x-amz-json-1.0");
        let k = client.request("Kinesis_20131202.PutRecords", b"{}".to_vec(), true);
        assert_eq!(k.uri().to_string(), "http://127.0.0.1:8000/");
        assert!(k.headers()["authorization"].to_str().unwrap().contains("/kinesis/aws4_request"));
        let s = client.request("DynamoDBStreams_20120810.GetRecords", b"{}".to_vec(), false);
        assert!(s.headers()["authorization"].to_str().unwrap().contains("/dynamodb/aws4_request"));
    }
}
