//! Reading back what a sluice holds, whole: a table's items (Scan), its DynamoDB stream
//! (every shard, closed ones too, from TRIM_HORIZON) and a Kinesis stream (every shard,
//! from TRIM_HORIZON), each change reduced to the versions it carries.

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::{Value, json};

use super::http::Http;

/// One change as a feed shows it: the item key, the version of its new image (None for
/// a REMOVE) and of its old image (None for an INSERT), and its eventID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub key: String,
    pub new: Option<u64>,
    pub old: Option<u64>,
    pub event_id: String,
}

fn version(image: &Value) -> Option<u64> {
    image.get("ver")?.get("N")?.as_str()?.parse().ok()
}

/// The event of one change record (a DynamoDB Streams record's `dynamodb`, or the
/// `dynamodb` of a destination record's JSON).
fn event(dynamodb: &Value, event_id: &Value) -> Result<Event, String> {
    let key =
        dynamodb["Keys"]["pk"]["S"].as_str().ok_or_else(|| format!("no key in {dynamodb}"))?;
    Ok(Event {
        key: key.to_string(),
        new: version(&dynamodb["NewImage"]),
        old: version(&dynamodb["OldImage"]),
        event_id: event_id.as_str().unwrap_or_default().to_string(),
    })
}

/// Every item of `table`: key → version.
pub async fn items(http: &mut Http, table: &str) -> Result<HashMap<String, u64>, String> {
    let mut out = HashMap::new();
    let mut start: Option<Value> = None;
    loop {
        let mut body = json!({"TableName": table, "ConsistentRead": true});
        if let Some(s) = start.take() {
            body["ExclusiveStartKey"] = s;
        }
        let page = http.ok("DynamoDB_20120810.Scan", body).await?;
        for item in page["Items"].as_array().into_iter().flatten() {
            let key = item["pk"]["S"].as_str().unwrap_or_default().to_string();
            out.insert(key, version(item).ok_or_else(|| format!("item without ver: {item}"))?);
        }
        match page.get("LastEvaluatedKey") {
            Some(k) if !k.is_null() => start = Some(k.clone()),
            _ => return Ok(out),
        }
    }
}

/// Every record of `table`'s DynamoDB stream, shard by shard (parents before children),
/// each shard in order; and how many shards it has (rollover closes them as it runs).
pub async fn dynamodb_stream(http: &mut Http, table: &str) -> Result<(Vec<Event>, usize), String> {
    let described = http.ok("DynamoDB_20120810.DescribeTable", json!({"TableName": table})).await?;
    let arn = described["Table"]["LatestStreamArn"]
        .as_str()
        .ok_or_else(|| format!("table {table} has no stream"))?
        .to_string();
    let mut shards = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let mut body = json!({"StreamArn": arn});
        if let Some(s) = start.take() {
            body["ExclusiveStartShardId"] = json!(s);
        }
        let page = http.ok("DynamoDBStreams_20120810.DescribeStream", body).await?;
        let d = &page["StreamDescription"];
        for shard in d["Shards"].as_array().into_iter().flatten() {
            let id = shard["ShardId"].as_str().unwrap_or_default().to_string();
            shards.push((id, shard["ParentShardId"].as_str().map(str::to_string)));
        }
        match d["LastEvaluatedShardId"].as_str() {
            Some(s) => start = Some(s.to_string()),
            None => break,
        }
    }
    let mut out = Vec::new();
    let count = shards.len();
    for shard in parents_first(shards) {
        let body = json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"});
        let it = http.ok("DynamoDBStreams_20120810.GetShardIterator", body).await?;
        let mut iterator = it["ShardIterator"].as_str().map(str::to_string);
        while let Some(it) = iterator.take() {
            let page = http
                .ok(
                    "DynamoDBStreams_20120810.GetRecords",
                    json!({"ShardIterator": it, "Limit": 1000}),
                )
                .await?;
            let records = page["Records"].as_array().cloned().unwrap_or_default();
            for r in &records {
                out.push(event(&r["dynamodb"], &r["eventID"])?);
            }
            // An open shard always hands on an iterator: caught up once a page is empty.
            if !records.is_empty() {
                iterator = page["NextShardIterator"].as_str().map(str::to_string);
            }
        }
    }
    Ok((out, count))
}

/// Shard ids ordered so each comes after its parent (a key's changes move from a closed
/// shard to its child), otherwise as listed.
fn parents_first(mut shards: Vec<(String, Option<String>)>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(shards.len());
    while !shards.is_empty() {
        let ready = |p: &Option<String>, rest: &[(String, Option<String>)]| {
            p.as_ref().is_none_or(|p| !rest.iter().any(|(id, _)| id == p))
        };
        let at = (0..shards.len()).find(|&i| ready(&shards[i].1, &shards)).unwrap_or(0);
        out.push(shards.remove(at).0);
    }
    out
}

/// Every record of the Kinesis stream `stream`, shard by shard, each in order.
pub async fn kinesis_stream(http: &mut Http, stream: &str) -> Result<Vec<Event>, String> {
    let listed = http.ok("Kinesis_20131202.ListShards", json!({"StreamName": stream})).await?;
    let mut out = Vec::new();
    for shard in listed["Shards"].as_array().into_iter().flatten() {
        let body = json!({
            "StreamName": stream,
            "ShardId": shard["ShardId"],
            "ShardIteratorType": "TRIM_HORIZON",
        });
        let it = http.ok("Kinesis_20131202.GetShardIterator", body).await?;
        let mut iterator = it["ShardIterator"].as_str().map(str::to_string);
        while let Some(it) = iterator.take() {
            let page = http
                .ok("Kinesis_20131202.GetRecords", json!({"ShardIterator": it, "Limit": 10000}))
                .await?;
            let records = page["Records"].as_array().cloned().unwrap_or_default();
            for r in &records {
                let data = base64::engine::general_purpose::STANDARD
                    .decode(r["Data"].as_str().unwrap_or_default())
                    .map_err(|e| format!("record data: {e}"))?;
                let data: Value =
                    serde_json::from_slice(&data).map_err(|e| format!("record data: {e}"))?;
                out.push(event(&data["dynamodb"], &data["eventID"])?);
            }
            if !records.is_empty() {
                iterator = page["NextShardIterator"].as_str().map(str::to_string);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_read_parents_first() {
        let s = |id: &str, parent: Option<&str>| (id.to_string(), parent.map(str::to_string));
        let got = parents_first(vec![
            s("c2", Some("c1")),
            s("b1", None),
            s("c1", Some("a")),
            s("a", None),
            // A parent trimmed away: the child stands alone.
            s("d", Some("gone")),
        ]);
        assert_eq!(got, ["b1", "a", "c1", "c2", "d"]);
    }
}
