//! The machine's HTTP+JSON ceiling: an in-process minimal hyper server (HTTP/1.1 and h2c)
//! that parses each JSON body and answers a canned `{}`, driven by the same client as the
//! endpoint, so a ratio measured in the same run says what the endpoint costs beyond
//! speaking HTTP and JSON at all.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Starts the server on a free loopback port; it lives as long as the runtime.
pub async fn start() -> Result<SocketAddr, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("ceiling server: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let service =
                hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let body = req.into_body().collect().await?.to_bytes();
                    let (status, answer): (u16, &'static [u8]) =
                        match serde_json::from_slice::<serde_json::Value>(&body) {
                            Ok(v) if v.is_object() => (200, b"{}"),
                            _ => (
                                400,
                                br#"{"__type":"com.amazon.coral.service#SerializationException"}"#,
                            ),
                        };
                    let mut response = hyper::Response::new(Full::new(Bytes::from_static(answer)));
                    *response.status_mut() =
                        hyper::StatusCode::from_u16(status).unwrap_or_default();
                    response.headers_mut().insert(
                        "content-type",
                        hyper::header::HeaderValue::from_static("application/x-amz-json-1.0"),
                    );
                    Ok::<_, hyper::Error>(response)
                });
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                );
                let _ = builder.serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::client::{Client, Credentials, Endpoint};

    #[tokio::test]
    async fn answers_json_with_an_empty_object_and_garbage_with_an_error() {
        let addr = start().await.unwrap();
        let client = Client::new(
            Endpoint::parse(&addr.to_string()).unwrap(),
            Credentials {
                access_key: "a".into(),
                secret_key: "b".into(),
                region: "us-east-1".into(),
            },
        );
        let mut conn = client.conn();
        let ok = conn
            .send("DynamoDB_20120810.PutItem", b"{\"TableName\":\"t\"}".to_vec())
            .await
            .unwrap();
        assert_eq!((ok.status, ok.error_type, &ok.body[..]), (200, None, &b"{}"[..]));
        let bad = conn.send("DynamoDB_20120810.PutItem", b"not json".to_vec()).await.unwrap();
        assert_eq!(bad.error_type.as_deref(), Some("SerializationException"));
    }
}
