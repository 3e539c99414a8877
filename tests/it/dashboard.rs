//! The Grafana dashboard against a daemon holding one of each resource (a table with a
//! stream, TTL and a Kinesis destination, a Kinesis stream with a fan-out consumer, an
//! event source mapping, a bridge source): every series each panel queries is there,
//! with the labels the panel groups by, before any traffic, so no panel says "No data";
//! and the scrape passes `promtool check metrics` (Prometheus's own linter).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::harness::Server;

/// A sample line's name and labels.
fn sample(line: &str) -> Option<(&str, BTreeMap<&str, &str>)> {
    if line.starts_with('#') || line.is_empty() {
        return None;
    }
    let name_end = line.find(['{', ' '])?;
    let mut labels = BTreeMap::new();
    if line[name_end..].starts_with('{') {
        let body = &line[name_end + 1..line.rfind('}')?];
        for pair in body.split("\",").filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once("=\"")?;
            labels.insert(k, v.trim_end_matches('"'));
        }
    }
    Some((&line[..name_end], labels))
}

/// What one query needs of the scrape: a metric, the labels it groups by, and its
/// `label="v"` / `label!="v"` matchers.
#[derive(Debug)]
struct Need {
    metric: String,
    by: Vec<String>,
    matchers: Vec<(String, bool, String)>,
}

/// The needs of a PromQL expression as the dashboard writes them (`sum by (a, b)
/// (rate(m{k="v"}[1m]))`, `histogram_quantile(q, sum by (le, a) (...))`, bare names).
fn needs(expr: &str) -> Vec<Need> {
    let mut out = Vec::new();
    let by: Vec<String> = expr
        .find("by (")
        .map(|i| {
            let rest = &expr[i + 4..];
            rest[..rest.find(')').unwrap()].split(',').map(|l| l.trim().to_string()).collect()
        })
        .unwrap_or_default();
    for (i, _) in expr.match_indices("sluice_").chain(expr.match_indices("process_")) {
        if i > 0 && expr.as_bytes()[i - 1].is_ascii_alphanumeric() {
            continue;
        }
        let rest = &expr[i..];
        let metric: String =
            rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let mut matchers = Vec::new();
        if let Some(body) = rest[metric.len()..].strip_prefix('{') {
            for m in body[..body.find('}').unwrap()].split(',') {
                let (k, negated, v) = match m.split_once("!=") {
                    Some((k, v)) => (k, true, v),
                    None => {
                        let (k, v) = m.split_once('=').unwrap();
                        (k, false, v)
                    }
                };
                matchers.push((k.trim().to_string(), negated, v.trim_matches('"').to_string()));
            }
        }
        // Prometheus adds `instance` and `job` at scrape time; `le` is a bucket's own.
        let by = by.iter().filter(|l| !["instance", "job"].contains(&l.as_str())).cloned();
        out.push(Need { metric, by: by.collect(), matchers });
    }
    out
}

/// Whether the scrape has a series `need` selects, with every label it groups by. A
/// query of events no resource owns (refusals, error answers) ends in `or on()
/// vector(0)`, its 0 while there are none: its family need only be registered.
fn met(scrape: &str, expr: &str, need: &Need) -> bool {
    if expr.ends_with(" or on() vector(0)") {
        let family = need.metric.trim_end_matches("_bucket");
        return scrape.lines().any(|l| l.starts_with(&format!("# HELP {family} ")));
    }
    scrape.lines().filter_map(sample).any(|(name, labels)| {
        name == need.metric
            && need.by.iter().all(|l| labels.contains_key(l.as_str()))
            && need.matchers.iter().all(|(k, negated, v)| {
                let value = labels.get(k.as_str()).copied().unwrap_or("");
                (value == v) != *negated
            })
    })
}

/// Every (panel title, expression) of the dashboard.
fn queries() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/grafana/dashboards/sluice.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap_or_default().to_string();
            out.push((title, target["expr"].as_str().unwrap().to_string()));
        }
    }
    out
}

#[tokio::test]
async fn every_dashboard_panel_has_its_series_before_any_traffic() {
    // Where the bridge source's table lives.
    let source = Server::start_with_config("[dynamodb]\npartitions_per_table = 1\n");
    crate::streams::create_with_stream(&source.client(), "orders", "NEW_AND_OLD_IMAGES").await;
    let (addr, _) = crate::lambda::double(None).await;
    let invoke =
        format!("invoke_url = \"http://{addr}/2015-03-31/functions/function/invocations\"");
    let config = format!(
        "{}{}",
        crate::bridge_source::bridge_config(&source, "w1", 1000),
        crate::lambda::function("fn", &invoke, "")
    );
    let server = Server::start_with_config(&config);
    let (client, k) = (server.client(), server.kinesis());
    let stream_arn = crate::streams::create_with_stream(&client, "tbl", "NEW_IMAGE").await;
    crate::kinesis::create(&k, "changes", 1).await;
    crate::kinesis::create(&k, "feed", 1).await;
    crate::bridge::enable(&client, "tbl", "feed", None).await;
    let feed = "arn:aws:kinesis:us-east-1:000000000000:stream/feed";
    k.register_stream_consumer().stream_arn(feed).consumer_name("c1").send().await.unwrap();
    server
        .lambda()
        .create_event_source_mapping()
        .function_name("fn")
        .event_source_arn(&stream_arn)
        .starting_position(aws_sdk_lambda::types::EventSourcePosition::TrimHorizon)
        .send()
        .await
        .unwrap();

    // A mapping created disabled has its series at 0 too.
    let disabled = server
        .lambda()
        .create_event_source_mapping()
        .function_name("fn")
        .event_source_arn(feed)
        .starting_position(aws_sdk_lambda::types::EventSourcePosition::Latest)
        .enabled(false)
        .send()
        .await
        .unwrap();
    let disabled_series = format!(
        "sluice_lambda_esm_invocations_total{{function=\"fn\",uuid=\"{}\"}} 0",
        disabled.uuid().unwrap()
    );

    let queries = queries();
    assert!(queries.len() > 40, "{queries:?}");
    let mut missing = Vec::new();
    // Series of background tasks (the forwarder, the source's leases) come as they start.
    for _ in 0..50 {
        let scrape = server.metrics().await;
        missing = queries
            .iter()
            .flat_map(|(title, expr)| needs(expr).into_iter().map(move |n| (title, expr, n)))
            .filter(|(_, expr, need)| !met(&scrape, expr, need))
            .map(|(title, expr, need)| format!("{title}: {expr} ({need:?})"))
            .collect::<Vec<_>>();
        if missing.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(missing.is_empty(), "panels with no series:\n{}", missing.join("\n"));
    let scrape = server.metrics().await;
    assert!(scrape.contains(&disabled_series), "{disabled_series} missing:\n{scrape}");
    promtool_check(&server.metrics().await);
}

/// `promtool check metrics` on a scrape, when promtool is installed (Debian's
/// `prometheus` package; `.ci/run` installs it and sets REQUIRE_PROMTOOL).
pub fn promtool_check(scrape: &str) {
    use std::io::Write;
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if std::env::var_os("REQUIRE_PROMTOOL").is_none() => {
            eprintln!("promtool not found ({e}): the lint is skipped");
            return;
        }
        Err(e) => panic!("REQUIRE_PROMTOOL is set but promtool cannot run: {e}"),
    };
    child.stdin.take().unwrap().write_all(scrape.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
