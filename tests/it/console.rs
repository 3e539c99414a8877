//! The web console (`/_sluice/console`): its data calls over raw HTTP, and the page itself
//! in a real headless Chromium (Debian's `chromium`): the DOM after its script ran shows
//! every resource, and a screenshot is taken. With `auth.enforce`, the page signs its
//! calls in the browser with the key it is given.

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::harness::{AUTH, Server};

/// The Chromium to drive, if the machine has one (`.ci/run` installs Debian's and sets
/// REQUIRE_CHROMIUM, so CI never skips the browser half).
fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("REQUIRE_CHROMIUM").is_none(),
            "REQUIRE_CHROMIUM is set but no chromium is installed"
        );
        eprintln!("no chromium: the browser half of this test is skipped");
    }
    found
}

/// Headless Chromium on `url` with `extra` arguments (`--dump-dom`, `--screenshot=...`),
/// given a few seconds of page time for the script's calls; its stdout.
fn browse(chromium: &Path, profile: &Path, url: &str, extra: &[&str]) -> String {
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1500",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A console data call as the page makes it (signed in the enforcing run).
async fn api(server: &Server, call: &str) -> (u16, Value) {
    let path = format!("/_sluice/console/api/{call}");
    let r = server.request("GET", &path, &[("Authorization", AUTH)], b"").await;
    (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))
}

/// In the enforcing run, the page is given the harness's key in its address's fragment.
fn key_fragment() -> String {
    match crate::signing::enforcing() {
        true => format!(
            "#access_key={}&secret_key={}&region=us-east-1",
            crate::signing::ACCESS_KEY_ID,
            crate::signing::SECRET_ACCESS_KEY
        ),
        false => String::new(),
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

#[tokio::test]
async fn the_console_shows_tables_streams_consumers_and_mappings() {
    let (addr, _) = crate::lambda::double(None).await;
    let invoke =
        format!("invoke_url = \"http://{addr}/2015-03-31/functions/function/invocations\"");
    let server = Server::start_with_config(&crate::lambda::function("orders-fn", &invoke, ""));
    let (client, k) = (server.client(), server.kinesis());
    let stream_arn = crate::streams::create_with_stream(&client, "orders", "NEW_IMAGE").await;
    crate::kinesis::create(&k, "orders-feed", 2).await;
    crate::bridge::enable(&client, "orders", "orders-feed", None).await;
    let feed = "arn:aws:kinesis:us-east-1:000000000000:stream/orders-feed";
    k.register_stream_consumer().stream_arn(feed).consumer_name("analytics").send().await.unwrap();
    for i in 0..30 {
        let put = client.put_item().table_name("orders").item("pk", s(&format!("order-{i:02}")));
        put.item("total", AttributeValue::N(format!("{i}.5"))).send().await.unwrap();
    }
    let mapping = server
        .lambda()
        .create_event_source_mapping()
        .function_name("orders-fn")
        .event_source_arn(&stream_arn)
        .starting_position(aws_sdk_lambda::types::EventSourcePosition::TrimHorizon)
        .send()
        .await
        .unwrap();
    let uuid = mapping.uuid().unwrap().to_string();
    crate::kinesis::create(&k, "clicks", 1).await;
    for i in 0..3 {
        let data = format!("{{\"click\":{i},\"page\":\"/home\"}}");
        let put = k.put_record().stream_name("clicks").partition_key(format!("user-{i}"));
        put.data(aws_sdk_kinesis::primitives::Blob::new(data)).send().await.unwrap();
    }
    let bin = aws_sdk_kinesis::primitives::Blob::new(vec![0u8, 1, 255]);
    k.put_record().stream_name("clicks").partition_key("raw").data(bin).send().await.unwrap();

    // The page and its assets: no data, this origin's own script and style only.
    let page = server.request("GET", "/_sluice/console", &[], b"").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.starts_with("default-src 'none'; script-src 'self'"), "{policy}");
    assert!(page.text().contains("/_sluice/console/console.js"));
    assert!(!page.text().contains("http"), "nothing fetched from elsewhere");
    for asset in ["console.js", "console.css"] {
        let r = server.request("GET", &format!("/_sluice/console/{asset}"), &[], b"").await;
        assert_eq!(r.status, 200, "{asset}");
        assert!(!r.text().contains("https://"), "{asset} loads nothing from elsewhere");
    }

    // The overview: every resource, with its counts and lag.
    let (status, o) = api(&server, "overview").await;
    assert_eq!(status, 200, "{o}");
    let table = &o["tables"][0];
    assert_eq!((table["name"].as_str(), table["items"].as_i64()), (Some("orders"), Some(30)));
    assert_eq!(table["stream"]["view_type"], "NEW_IMAGE");
    assert!(table["destinations"][0]["stream_arn"].as_str().unwrap().ends_with("/orders-feed"));
    let feed_stream = o["streams"].as_array().unwrap().iter().find(|s| s["name"] == "orders-feed");
    let feed_stream = feed_stream.expect("orders-feed listed");
    assert_eq!(feed_stream["shards"].as_array().unwrap().len(), 2);
    assert_eq!(feed_stream["retention_hours"], 24);
    assert_eq!(feed_stream["consumers"][0]["name"], "analytics");
    assert_eq!(o["mappings"][0]["uuid"], uuid.as_str());
    assert_eq!(o["mappings"][0]["function"], "orders-fn");

    // The item browser pages through the table, 25 at a time.
    let (status, first) = api(&server, "items?table=orders").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["items"].as_array().unwrap().len(), 25);
    let next = serde_json::to_string(&first["next"]).unwrap();
    let start: String = url_encode(&next);
    let (_, second) = api(&server, &format!("items?table=orders&start={start}")).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 5);
    assert!(second["next"].is_null());
    let (status, missing) = api(&server, "items?table=nope").await;
    assert_eq!(status, 400);
    assert!(missing["message"].as_str().unwrap().contains("nope"), "{missing}");

    // The newest records first, decoded when JSON.
    let (_, records) = api(&server, "records?stream=clicks").await;
    let records = records["records"].as_array().unwrap().clone();
    assert_eq!(records.len(), 4);
    assert_eq!(records[0]["partition_key"], "raw");
    assert_eq!(records[0]["base64"], "AAH/");
    assert_eq!(records[1]["json"], serde_json::json!({"click": 2, "page": "/home"}));
    assert!(records[1]["sequence_number"].as_str().unwrap().len() >= 56);
    // A big record is shown cut to its first 4 KiB.
    let big = aws_sdk_kinesis::primitives::Blob::new(vec![b'x'; 100_000]);
    k.put_record().stream_name("clicks").partition_key("big").data(big).send().await.unwrap();
    let (_, newest) = api(&server, "records?stream=clicks").await;
    let newest = &newest["records"][0];
    assert_eq!(
        (newest["partition_key"].as_str(), newest["truncated"].as_bool()),
        (Some("big"), Some(true))
    );
    assert_eq!(newest["base64"].as_str().unwrap().len(), 4096 / 3 * 4 + 4);

    // Same-origin, read-only, and nothing else.
    let evil = [("Origin", "https://evil.example"), ("Authorization", AUTH)];
    let r = server.request("GET", "/_sluice/console/api/overview", &evil, b"").await;
    assert_eq!(r.status, 403);
    let r = server.request("DELETE", "/_sluice/console/api/overview", &[], b"").await;
    assert_eq!(r.status, 405);
    assert_eq!(api(&server, "nothing").await.0, 404);

    // The page in a real browser, after its script has run.
    let Some(chromium) = chromium() else { return };
    let profile = tempfile::tempdir().unwrap();
    let url =
        format!("{}/_sluice/console?table=orders&stream=clicks{}", server.endpoint, key_fragment());
    let dom = browse(&chromium, profile.path(), &url, &["--dump-dom"]);
    for want in [
        "data-table=\"orders\"",
        "data-stream=\"orders-feed\"",
        "data-consumer=\"analytics\"",
        &format!("data-mapping=\"{uuid}\""),
        "{\"pk\":{\"S\":\"order-00\"}",
        "{\"click\":2,\"page\":\"/home\"}",
        "base64 AAH/",
        "live · updated",
    ] {
        assert!(dom.contains(want), "the console does not show {want}:\n{dom}");
    }
    let shot = profile.path().join("console.png");
    browse(&chromium, profile.path(), &url, &[&format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000, "{} bytes", png.len());
    // `CONSOLE_SCREENSHOT=docs/console.png cargo test --test it console` refreshes the
    // picture in the docs.
    if let Some(keep) = std::env::var_os("CONSOLE_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}

#[tokio::test]
async fn with_auth_enforced_the_page_signs_its_calls_with_the_key_it_is_given() {
    let config = "[auth]\nenforce = true\n\
        [[auth.keys]]\naccess_key_id = \"AKIDCONSOLE\"\nsecret_access_key = \"console-secret\"\n";
    let server = Server::start_with_config(config);
    let page = server.request("GET", "/_sluice/console", &[], b"").await;
    assert_eq!(page.status, 200, "the page carries no data");
    let r = server.request("GET", "/_sluice/console/api/overview", &[], b"").await;
    assert_eq!(r.status, 403, "{}", r.text());

    let Some(chromium) = chromium() else { return };
    let profile = tempfile::tempdir().unwrap();
    let url = format!("{}/_sluice/console", server.endpoint);
    let dom = browse(&chromium, profile.path(), &url, &["--dump-dom"]);
    assert!(dom.contains("<form id=\"login\">"), "the sign-in form shows:\n{dom}");
    assert!(dom.contains("refused:"), "{dom}");
    let keyed = format!("{url}#access_key=AKIDCONSOLE&secret_key=console-secret&region=us-east-1");
    let dom = browse(&chromium, profile.path(), &keyed, &["--dump-dom"]);
    assert!(dom.contains("live · updated"), "signed calls are answered:\n{dom}");
    assert!(dom.contains("<form id=\"login\" hidden=\"\">"), "{dom}");
    let wrong = format!("{url}#access_key=AKIDCONSOLE&secret_key=wrong&region=us-east-1");
    let dom = browse(&chromium, profile.path(), &wrong, &["--dump-dom"]);
    assert!(dom.contains("refused:"), "{dom}");
}

/// Percent-encodes a query value.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
