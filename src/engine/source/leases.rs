//! The lease table: one item per source shard, in the Kinesis Client Library's layout
//! where it fits (`leaseKey`, `leaseOwner`, `leaseCounter`, `checkpoint`,
//! `parentShardIds`, `ownerSwitchesSinceCheckpoint`), plus `source`, `streamArn` and
//! `shardId`. Every change is a conditional write on the counter the writer last saw, so
//! two instances never both believe they won the same lease; a lease is alive while its
//! counter keeps moving, judged by each reader's own clock (no clock is shared).
//!
//! Each instance also keeps a heartbeat item (`{source}/_worker/{worker_id}`, with
//! `workerId` and a `heartbeat` it moves every round), so every instance knows how many
//! share the source, including one that holds no lease yet.

use serde_json::{Value, json};

use super::client::{CallError, Client};

/// `checkpoint` of a shard read to its end.
pub const SHARD_END: &str = "SHARD_END";

/// One shard's lease, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub key: String,
    pub owner: Option<String>,
    pub counter: u64,
    /// `TRIM_HORIZON`, `LATEST`, a sequence number, or [`SHARD_END`].
    pub checkpoint: String,
    pub parents: Vec<String>,
    pub owner_switches: u64,
    pub stream_arn: String,
    pub shard_id: String,
}

impl Lease {
    /// A new, unowned lease of `shard_id` in `stream_arn`.
    pub fn new(
        source: &str,
        stream_arn: &str,
        shard_id: &str,
        parents: Vec<String>,
        checkpoint: &str,
    ) -> Lease {
        Lease {
            key: lease_key(source, stream_arn, shard_id),
            owner: None,
            counter: 0,
            checkpoint: checkpoint.to_string(),
            parents,
            owner_switches: 0,
            stream_arn: stream_arn.to_string(),
            shard_id: shard_id.to_string(),
        }
    }

    pub fn finished(&self) -> bool {
        self.checkpoint == SHARD_END
    }

    fn from_item(item: &Value) -> Option<Lease> {
        let s = |name: &str| item[name]["S"].as_str().map(str::to_string);
        let n = |name: &str| item[name]["N"].as_str().and_then(|v| v.parse::<u64>().ok());
        let parents = item["parentShardIds"]["SS"].as_array().map_or_else(Vec::new, |a| {
            a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
        });
        Some(Lease {
            key: s("leaseKey")?,
            owner: s("leaseOwner"),
            counter: n("leaseCounter").unwrap_or(0),
            checkpoint: s("checkpoint").unwrap_or_else(|| "TRIM_HORIZON".into()),
            parents,
            owner_switches: n("ownerSwitchesSinceCheckpoint").unwrap_or(0),
            stream_arn: s("streamArn")?,
            shard_id: s("shardId")?,
        })
    }

    fn to_item(&self, source: &str) -> Value {
        let mut item = json!({
            "leaseKey": {"S": self.key},
            "source": {"S": source},
            "streamArn": {"S": self.stream_arn},
            "shardId": {"S": self.shard_id},
            "leaseCounter": {"N": self.counter.to_string()},
            "checkpoint": {"S": self.checkpoint},
            "ownerSwitchesSinceCheckpoint": {"N": self.owner_switches.to_string()},
        });
        // A string set cannot be empty.
        if !self.parents.is_empty() {
            item["parentShardIds"] = json!({"SS": self.parents});
        }
        item
    }
}

/// The lease of `shard_id` of `stream_arn` for `source`. The stream's label (the ARN's
/// last part) keeps shards of a re-enabled stream apart from the old one's.
pub fn lease_key(source: &str, stream_arn: &str, shard_id: &str) -> String {
    let label = stream_arn.rsplit('/').next().unwrap_or(stream_arn);
    format!("{source}/{label}/{shard_id}")
}

/// The heartbeat item of instance `worker` of `source`.
pub fn worker_key(source: &str, worker: &str) -> String {
    format!("{source}/_worker/{worker}")
}

/// Whether `e` is a lost condition (another instance moved the lease first).
pub fn lost(e: &CallError) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

/// The lease table of one source, at one endpoint.
pub struct LeaseTable {
    pub client: Client,
    pub table: String,
    pub source: String,
}

impl LeaseTable {
    /// Creates the table when it is missing, then waits (up to a minute) until it is
    /// ACTIVE.
    pub async fn ensure(&self) -> Result<(), CallError> {
        let describe = json!({"TableName": self.table});
        match self.client.call("DynamoDB_20120810.DescribeTable", &describe).await {
            Ok(d) if d["Table"]["TableStatus"] == "ACTIVE" => return Ok(()),
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceNotFoundException") => {
                let create = json!({
                    "TableName": self.table,
                    "AttributeDefinitions": [{"AttributeName": "leaseKey", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "leaseKey", "KeyType": "HASH"}],
                    "BillingMode": "PAY_PER_REQUEST",
                });
                match self.client.call("DynamoDB_20120810.CreateTable", &create).await {
                    // Another instance created it first.
                    Err(e) if e.code() != Some("ResourceInUseException") => return Err(e),
                    _ => {}
                }
            }
            Err(e) => return Err(e),
        }
        for _ in 0..600 {
            let d = self.client.call("DynamoDB_20120810.DescribeTable", &describe).await?;
            if d["Table"]["TableStatus"] == "ACTIVE" {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err(CallError::Malformed(format!("lease table {} never became ACTIVE", self.table)))
    }

    /// Every lease of this source, and every instance's heartbeat (`leaseKey`, counter),
    /// read consistently, every page.
    pub async fn list(&self) -> Result<(Vec<Lease>, Vec<(String, u64)>), CallError> {
        let mut leases = Vec::new();
        let mut workers = Vec::new();
        let mut start: Option<Value> = None;
        loop {
            let mut body = json!({
                "TableName": self.table,
                "ConsistentRead": true,
                "FilterExpression": "#s = :s",
                "ExpressionAttributeNames": {"#s": "source"},
                "ExpressionAttributeValues": {":s": {"S": self.source}},
            });
            if let Some(key) = start.take() {
                body["ExclusiveStartKey"] = key;
            }
            let page = self.client.call("DynamoDB_20120810.Scan", &body).await?;
            let items = page["Items"].as_array().map_or(&[][..], Vec::as_slice);
            leases.extend(items.iter().filter_map(Lease::from_item));
            workers.extend(items.iter().filter_map(|i| {
                i["workerId"]["S"].as_str()?;
                let beat = i["heartbeat"]["N"].as_str()?.parse().ok()?;
                Some((i["leaseKey"]["S"].as_str()?.to_string(), beat))
            }));
            match page.get("LastEvaluatedKey") {
                Some(key) if key.is_object() => start = Some(key.clone()),
                _ => return Ok((leases, workers)),
            }
        }
    }

    /// This instance's heartbeat item: present, with `beat` (which moves every round).
    pub async fn heartbeat(&self, me: &str, beat: u64) -> Result<(), CallError> {
        let body = json!({
            "TableName": self.table,
            "Item": {
                "leaseKey": {"S": worker_key(&self.source, me)},
                "source": {"S": self.source},
                "workerId": {"S": me},
                "heartbeat": {"N": beat.to_string()},
            },
        });
        self.client.call("DynamoDB_20120810.PutItem", &body).await.map(|_| ())
    }

    /// Removes this instance's heartbeat (a clean shutdown): the others count it out at
    /// once, and take their share of what it handed back.
    pub async fn leave(&self, me: &str) -> Result<(), CallError> {
        let body = json!({"TableName": self.table, "Key": {"leaseKey": {"S": worker_key(&self.source, me)}}});
        self.client.call("DynamoDB_20120810.DeleteItem", &body).await.map(|_| ())
    }

    /// Removes a heartbeat item last seen at `beat` (an instance gone for long).
    pub async fn forget_worker(&self, key: &str, beat: u64) -> Result<(), CallError> {
        let body = json!({
            "TableName": self.table,
            "Key": {"leaseKey": {"S": key}},
            "ConditionExpression": "heartbeat = :beat",
            "ExpressionAttributeValues": {":beat": {"N": beat.to_string()}},
        });
        match self.client.call("DynamoDB_20120810.DeleteItem", &body).await {
            Err(e) if !lost(&e) => Err(e),
            _ => Ok(()),
        }
    }

    /// Writes `lease` unless one with its key exists; whether this call wrote it.
    pub async fn create(&self, lease: &Lease) -> Result<bool, CallError> {
        let body = json!({
            "TableName": self.table,
            "Item": lease.to_item(&self.source),
            "ConditionExpression": "attribute_not_exists(leaseKey)",
        });
        match self.client.call("DynamoDB_20120810.PutItem", &body).await {
            Ok(_) => Ok(true),
            Err(e) if lost(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Makes `me` the owner of `lease`, provided nobody moved it since it was read;
    /// returns the new counter.
    pub async fn take(&self, lease: &Lease, me: &str) -> Result<u64, CallError> {
        let next = lease.counter + 1;
        let switches = match lease.owner.as_deref() == Some(me) {
            true => lease.owner_switches,
            false => lease.owner_switches + 1,
        };
        let body = json!({
            "TableName": self.table,
            "Key": {"leaseKey": {"S": lease.key}},
            "UpdateExpression": "SET leaseOwner = :me, leaseCounter = :next, ownerSwitchesSinceCheckpoint = :switches",
            "ConditionExpression": "leaseCounter = :seen",
            "ExpressionAttributeValues": {
                ":me": {"S": me},
                ":next": {"N": next.to_string()},
                ":switches": {"N": switches.to_string()},
                ":seen": {"N": lease.counter.to_string()},
            },
        });
        self.client.call("DynamoDB_20120810.UpdateItem", &body).await.map(|_| next)
    }

    /// Moves the counter of a lease `me` holds at `counter`; returns the new counter.
    pub async fn renew(&self, key: &str, me: &str, counter: u64) -> Result<u64, CallError> {
        let next = counter + 1;
        let body = json!({
            "TableName": self.table,
            "Key": {"leaseKey": {"S": key}},
            "UpdateExpression": "SET leaseCounter = :next",
            "ConditionExpression": "leaseOwner = :me AND leaseCounter = :seen",
            "ExpressionAttributeValues": {
                ":me": {"S": me},
                ":next": {"N": next.to_string()},
                ":seen": {"N": counter.to_string()},
            },
        });
        self.client.call("DynamoDB_20120810.UpdateItem", &body).await.map(|_| next)
    }

    /// Who holds lease `key` and its counter, read consistently (`None` for the owner of
    /// a released lease; `None` altogether when the lease is gone).
    pub async fn holder(&self, key: &str) -> Result<Option<(Option<String>, u64)>, CallError> {
        let body = json!({
            "TableName": self.table,
            "Key": {"leaseKey": {"S": key}},
            "ConsistentRead": true,
            "ProjectionExpression": "leaseOwner, leaseCounter",
        });
        let got = self.client.call("DynamoDB_20120810.GetItem", &body).await?;
        let Some(item) = got.get("Item") else { return Ok(None) };
        let owner = item["leaseOwner"]["S"].as_str().map(str::to_string);
        let counter = item["leaseCounter"]["N"].as_str().and_then(|n| n.parse().ok()).unwrap_or(0);
        Ok(Some((owner, counter)))
    }

    /// Records `checkpoint` on a lease `me` holds at `counter`.
    pub async fn checkpoint(
        &self,
        key: &str,
        me: &str,
        counter: u64,
        checkpoint: &str,
    ) -> Result<(), CallError> {
        let body = json!({
            "TableName": self.table,
            "Key": {"leaseKey": {"S": key}},
            "UpdateExpression": "SET checkpoint = :checkpoint, ownerSwitchesSinceCheckpoint = :zero",
            "ConditionExpression": "leaseOwner = :me AND leaseCounter = :seen",
            "ExpressionAttributeValues": {
                ":me": {"S": me},
                ":checkpoint": {"S": checkpoint},
                ":zero": {"N": "0"},
                ":seen": {"N": counter.to_string()},
            },
        });
        self.client.call("DynamoDB_20120810.UpdateItem", &body).await.map(|_| ())
    }

    /// Gives a lease `me` holds at `counter` up (at shutdown), so another instance takes
    /// it at once instead of after the lease duration.
    pub async fn release(&self, key: &str, me: &str, counter: u64) -> Result<(), CallError> {
        let body = json!({
            "TableName": self.table,
            "Key": {"leaseKey": {"S": key}},
            "UpdateExpression": "REMOVE leaseOwner SET leaseCounter = :next",
            "ConditionExpression": "leaseOwner = :me AND leaseCounter = :seen",
            "ExpressionAttributeValues": {
                ":me": {"S": me},
                ":next": {"N": (counter + 1).to_string()},
                ":seen": {"N": counter.to_string()},
            },
        });
        self.client.call("DynamoDB_20120810.UpdateItem", &body).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_round_trip_through_their_items() {
        let arn =
            "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2026-12-06T01:02:03.456";
        let mut lease =
            Lease::new("orders", arn, "shardId-2", vec!["shardId-1".into()], "TRIM_HORIZON");
        assert_eq!(lease.key, "orders/2026-12-06T01:02:03.456/shardId-2");
        let item = lease.to_item("orders");
        assert_eq!(item["parentShardIds"], json!({"SS": ["shardId-1"]}));
        assert_eq!(Lease::from_item(&item), Some(lease.clone()));
        lease.owner = Some("w1".into());
        lease.parents.clear();
        let mut item = lease.to_item("orders");
        assert!(item.get("parentShardIds").is_none());
        item["leaseOwner"] = json!({"S": "w1"});
        assert_eq!(Lease::from_item(&item), Some(lease));
        assert_eq!(Lease::from_item(&json!({"leaseKey": {"S": "k"}})), None);
    }
}
