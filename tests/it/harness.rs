//! The test harness: starts the real `sluice` binary on a free port with its own data
//! directory, builds SDK clients for it, and speaks raw HTTP/1.1 to it for the requests
//! an SDK would never send (malformed bodies, missing auth, odd methods).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A well-formed SigV4 header, the placeholder of a signed request: sluice parses it and,
/// not enforcing signatures, never checks it; the enforcing run signs it for real
/// (`crate::signing`).
pub const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0123456789abcdef";

/// One running daemon. Dropping it kills the process (SIGKILL) and, when the server owns
/// its directory, removes the data.
pub struct Server {
    child: Child,
    /// Kept open so the daemon never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    pub addr: SocketAddr,
    pub endpoint: String,
    _owned_dir: Option<tempfile::TempDir>,
    /// In the enforcing run, whether dropping the daemon checks that it refused no request
    /// for want of a signature or permission (a test passing on a 403 proves nothing).
    audit_denials: std::cell::Cell<bool>,
}

impl Server {
    /// A fresh daemon with an empty data directory of its own.
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut server = Server::start_in(dir.path());
        server._owned_dir = Some(dir);
        server
    }

    /// A fresh daemon whose config file holds `config` (TOML), for tests that need
    /// settings other than the defaults (short intervals, delays).
    pub fn start_with_config(config: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut server = Server::start_in_with(dir.path(), config);
        server._owned_dir = Some(dir);
        server
    }

    /// As `start_with_config`, with extra environment variables for the daemon (such as
    /// glibc's `MALLOC_ARENA_MAX`).
    pub fn start_with_config_env(config: &str, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut server = Server::spawn(dir.path(), config, Some(0), env);
        server._owned_dir = Some(dir);
        server
    }

    /// A daemon on `dir` (which the caller keeps, so a restart finds the same data).
    pub fn start_in(dir: &Path) -> Server {
        // An empty config file: the repository's config/sluice.toml (found relative to the
        // working directory) must not decide how the tests run.
        Server::start_in_with(dir, "")
    }

    /// A daemon on `dir` with `config_text` as its config file, on a free port.
    pub fn start_in_with(dir: &Path, config_text: &str) -> Server {
        Server::spawn(dir, config_text, Some(0), &[])
    }

    /// A daemon on `dir` listening where `config_text` says (`server.listen`), so a
    /// restart on the same directory comes back at the same address (a remote
    /// destination that went away and returned).
    pub fn start_in_listening(dir: &Path, config_text: &str) -> Server {
        Server::spawn(dir, config_text, None, &[])
    }

    fn spawn(dir: &Path, config_text: &str, port: Option<u16>, env: &[(&str, &str)]) -> Server {
        let config = dir.join("sluice.toml");
        std::fs::write(&config, crate::signing::daemon_config(config_text)).expect("write config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("sluice.log"))
            .expect("open log");
        let exe = Path::new(env!("CARGO_BIN_EXE_sluice"));
        let mut command = sluice::torture::daemon_command(exe, dir, &config, port, log);
        command.env("RUST_LOG", "info");
        command.envs(env.iter().copied());
        let mut child = command.spawn().expect("spawn sluice");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        let Some(url) = line.trim().strip_prefix("sluice listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.join("sluice.log")).unwrap_or_default();
            panic!("sluice did not start ({read:?}, stdout {line:?}); its log:\n{log}");
        };
        // `https://` when the config sets a TLS certificate.
        let addr: SocketAddr = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .and_then(|a| a.parse().ok())
            .expect("address in banner");
        let audit_denials = crate::signing::enforcing()
            && !config_text.contains("[auth")
            && url.starts_with("http://");
        Server {
            child,
            _stdout: stdout,
            addr,
            endpoint: url.to_string(),
            _owned_dir: None,
            audit_denials: std::cell::Cell::new(audit_denials),
        }
    }

    /// Says that this test sends requests refused for their signature on purpose (a
    /// malformed or missing one), so the enforcing run does not count them against it.
    pub fn expect_denials(&self) {
        self.audit_denials.set(false);
    }

    /// The daemon's process id (its /proc entry tells its memory).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crash would: nothing gets a chance to flush.
    pub fn kill(mut self) {
        self.child.kill().expect("kill sluice");
        self.child.wait().expect("reap sluice");
    }

    /// SIGTERM, then waits (up to `within`) for the process to exit on its own.
    pub fn terminate(mut self, within: Duration) -> ExitStatus {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed: {status}");
        let deadline = Instant::now() + within;
        loop {
            if let Some(exit) = self.child.try_wait().expect("try_wait") {
                return exit;
            }
            assert!(Instant::now() < deadline, "sluice did not exit within {within:?} of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// An SDK client for this daemon: dummy credentials, us-east-1, plain HTTP, and no
    /// retries, so an unexpected 5xx fails the test instead of being retried away.
    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        let http = aws_smithy_http_client::Builder::new().build_http();
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDEXAMPLE", "secret", None, None, "it"))
            .endpoint_url(&self.endpoint)
            .http_client(http)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder().operation_timeout(Duration::from_secs(20)).build(),
            )
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// A DynamoDB Streams SDK client for this daemon, configured as `client()` is (the
    /// same endpoint: sluice serves every API on one port).
    pub fn streams(&self) -> aws_sdk_dynamodbstreams::Client {
        use aws_sdk_dynamodbstreams::config::{
            BehaviorVersion, Credentials, Region, retry::RetryConfig, timeout::TimeoutConfig,
        };
        let http = aws_smithy_http_client::Builder::new().build_http();
        let config = aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDEXAMPLE", "secret", None, None, "it"))
            .endpoint_url(&self.endpoint)
            .http_client(http)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder().operation_timeout(Duration::from_secs(20)).build(),
            )
            .build();
        aws_sdk_dynamodbstreams::Client::from_conf(config)
    }

    /// A Kinesis SDK client for this daemon, configured like `client()`.
    pub fn kinesis(&self) -> aws_sdk_kinesis::Client {
        self.kinesis_in("us-east-1")
    }

    /// [`Server::kinesis`] signing for `region`: it sees that region's streams.
    pub fn kinesis_in(&self, region: &str) -> aws_sdk_kinesis::Client {
        let http = aws_smithy_http_client::Builder::new().build_http();
        let config = aws_sdk_kinesis::Config::builder()
            .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
            .region(aws_sdk_kinesis::config::Region::new(region.to_string()))
            .credentials_provider(aws_sdk_kinesis::config::Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "it",
            ))
            .endpoint_url(&self.endpoint)
            .http_client(http)
            .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_sdk_kinesis::config::timeout::TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(20))
                    .build(),
            )
            .build();
        aws_sdk_kinesis::Client::from_conf(config)
    }

    /// A Lambda SDK client for this daemon, configured like `client()`.
    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        use aws_sdk_lambda::config::{
            BehaviorVersion, Credentials, Region, retry::RetryConfig, timeout::TimeoutConfig,
        };
        let http = aws_smithy_http_client::Builder::new().build_http();
        let config = aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDEXAMPLE", "secret", None, None, "it"))
            .endpoint_url(&self.endpoint)
            .http_client(http)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder().operation_timeout(Duration::from_secs(30)).build(),
            )
            .build();
        aws_sdk_lambda::Client::from_conf(config)
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        let dir = self._owned_dir.as_ref().map(|d| d.path().to_path_buf());
        dir.and_then(|d| std::fs::read_to_string(d.join("sluice.log")).ok()).unwrap_or_default()
    }

    /// A DynamoDB request with valid-looking auth: `X-Amz-Target: DynamoDB_20120810.<op>`
    /// (or `target` as is when it contains a dot), plus `headers`, which replace the
    /// defaults of the same name.
    pub async fn post(&self, target: &str, body: &[u8], headers: &[(&str, &str)]) -> RawResponse {
        let target = if target.contains('.') {
            target.to_string()
        } else {
            format!("DynamoDB_20120810.{target}")
        };
        let mut all = vec![
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", target.as_str()),
            ("X-Amz-Date", "20260101T000000Z"),
            ("Authorization", AUTH),
        ];
        all.retain(|(name, _)| !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)));
        all.extend_from_slice(headers);
        self.request("POST", "/", &all, body).await
    }

    /// The Prometheus exposition on the API port (signed in the enforcing run).
    pub async fn metrics(&self) -> String {
        self.admin("GET", "/metrics", &[], b"").await.text()
    }

    /// A request to one of sluice's own endpoints (`/metrics`, `/_sluice/*`), carrying the
    /// placeholder signature unless `headers` has an `Authorization` of its own.
    pub async fn admin(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawResponse {
        let mut all = headers.to_vec();
        if !all.iter().any(|(n, _)| n.eq_ignore_ascii_case("authorization")) {
            all.push(("Authorization", AUTH));
        }
        self.request(method, path, &all, body).await
    }

    /// Any HTTP/1.1 request: only `Host`, `Content-Length` and `Connection: close` are
    /// added, so tests control every other header.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawResponse {
        raw_request(self.addr, method, path, headers, body).await
    }

    /// Writes `request` as is and reads the response until the server closes. Writing
    /// runs alongside reading: a server may answer (413) before it has read everything.
    pub async fn exchange(&self, request: Vec<u8>) -> RawResponse {
        raw_exchange(self.addr, request).await
    }
}

/// [`Server::request`] to any address (another server the test talks to).
pub async fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    let mut wire = head.into_bytes();
    wire.extend_from_slice(body);
    raw_exchange(addr, wire).await
}

/// [`Server::exchange`] with any address.
pub async fn raw_exchange(addr: SocketAddr, request: Vec<u8>) -> RawResponse {
    let request = crate::signing::sign_wire(request);
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        // A server that answers early may close before it read all of it: ignore that.
        let _ = wr.write_all(&request).await;
        let _ = wr.flush().await;
        wr
    });
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), rd.read_to_end(&mut raw)).await;
    let read = read.expect("response within 20s");
    // A reset after the whole response arrived is fine (the 413 case); parse what came.
    if let Err(e) = read {
        assert!(!raw.is_empty(), "reading the response failed before any byte: {e}");
    }
    drop(writer.await);
    RawResponse::parse(&raw)
}

impl Drop for Server {
    fn drop(&mut self) {
        let running = matches!(self.child.try_wait(), Ok(None));
        if self.audit_denials.get() && running && !std::thread::panicking() {
            let denied = crate::signing::denials(self.addr);
            if !denied.is_empty() {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the enforcing run's daemon refused signed requests:\n{denied}");
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    fn parse(raw: &[u8]) -> RawResponse {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
        let head = std::str::from_utf8(&raw[..split]).expect("ASCII head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let rest = &raw[split + 4..];
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
        let body = if chunked { dechunk(rest) } else { rest.to_vec() };
        RawResponse { status, headers, body }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("body is not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body))
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else { return body };
        let size_text = std::str::from_utf8(&rest[..eol]).unwrap_or("0");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return body;
        }
        let start = eol + 2;
        let end = (start + size).min(rest.len());
        body.extend_from_slice(&rest[start..end]);
        rest = rest.get(end + 2..).unwrap_or_default();
    }
}

/// The sanitized error code and message of a failed SDK call; panics on success.
#[track_caller]
pub fn error_of<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, E>,
) -> (String, String) {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => (
            e.code().unwrap_or_else(|| panic!("error without a code: {e:?}")).to_string(),
            e.message().unwrap_or_default().to_string(),
        ),
    }
}

/// Creates an on-demand table keyed by `pk` (S), and by `sk` (N) when `range` is set.
/// Waits until GSI `index` of `table` is ACTIVE (a backfill finished), or panics after
/// about six seconds.
pub async fn wait_index_active(client: &aws_sdk_dynamodb::Client, table: &str, index: &str) {
    use aws_sdk_dynamodb::types::IndexStatus;
    for _ in 0..300 {
        let t = client.describe_table().table_name(table).send().await.unwrap().table.unwrap();
        let status = t
            .global_secondary_indexes()
            .iter()
            .find(|g| g.index_name() == Some(index))
            .and_then(|g| g.index_status().cloned());
        if status == Some(IndexStatus::Active) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("index {index} never became ACTIVE");
}

pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str, range: bool) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let attr = |n: &str, t| {
        AttributeDefinition::builder().attribute_name(n).attribute_type(t).build().unwrap()
    };
    let key =
        |n: &str, t| KeySchemaElement::builder().attribute_name(n).key_type(t).build().unwrap();
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash));
    if range {
        request = request
            .attribute_definitions(attr("sk", ScalarAttributeType::N))
            .key_schema(key("sk", KeyType::Range));
    }
    request.send().await.expect("create table");
}
