//! Delivering on-failure records (`on_failure`) to a mapping's
//! `DestinationConfig.OnFailure.Destination`, by the kind its ARN names:
//!
//! - an SQS queue (`arn:aws:sqs:<region>:<account>:<name>`): GetQueueUrl, then
//!   SendMessage with the record as the body, at `lambda.on_failure_sqs_endpoint`;
//! - an SNS topic (`arn:aws:sns:...`): Publish with the record as the message, at
//!   `lambda.on_failure_sns_endpoint`;
//! - a Kinesis stream of this sluice (`arn:aws:kinesis:...:stream/<name>`): one record
//!   (partition key: the mapping's UUID), through the engine's own append path;
//! - a DynamoDB table of this sluice (`arn:aws:dynamodb:...:table/<name>`, hash key of type
//!   S, no sort key): an item keyed by the record's requestId, the JSON in `record` (S);
//! - an S3 bucket: accepted at Create/Update as AWS does, never delivered.
//!
//! SQS and SNS speak AWS's query protocol (a form-encoded POST, XML answers), which AWS,
//! ElasticMQ, LocalStack and moto all accept, signed with SigV4 like the Lambda endpoint's
//! calls (`lambda.access_key_id`, or the same placeholder pair), every answer read only
//! up to [`MAX_ANSWER`]. A failed attempt is retried [`ATTEMPTS`] times in all with the
//! mappings' retry pauses; a destination that cannot take the record by then (or can
//! never: no endpoint, S3, an unknown ARN) fails the delivery, which the caller logs and
//! counts before moving on, as AWS's DestinationDeliveryFailures.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::engine::Engine;
use crate::engine::bridge::remote::backoff::{Backoff, jitter};
use crate::engine::bridge::remote::sigv4::{self, Signer};
use crate::engine::catalog::ScalarType;
use crate::engine::http_client::{HttpClient, encode_segment, truncate};
use crate::engine::kinesis::NewRecord;
use crate::model::value::{AttributeValue, Item};

/// Attempts at one delivery before it fails.
pub const ATTEMPTS: u32 = 5;
/// The most of an SQS or SNS answer that is read.
pub const MAX_ANSWER: usize = 64 * 1024;
/// How long one SQS or SNS exchange may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// A destination ARN, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination<'a> {
    Sqs { region: &'a str, account: &'a str, name: &'a str },
    Sns { region: &'a str, topic_arn: &'a str },
    Kinesis { region: &'a str, account: &'a str, name: &'a str },
    DynamoDb { region: &'a str, account: &'a str, table: &'a str },
    S3,
}

impl<'a> Destination<'a> {
    /// The destination `arn` names; `None` for none sluice knows.
    pub fn parse(arn: &'a str) -> Option<Destination<'a>> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(_partition), Some(service), Some(region), Some(account)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let resource = parts.next()?;
        let named = |s: &str| !s.is_empty() && !s.contains(['/', ':']);
        match service {
            "sqs" if named(resource) => Some(Destination::Sqs { region, account, name: resource }),
            "sns" if named(resource) => Some(Destination::Sns { region, topic_arn: arn }),
            "kinesis" => {
                let name = resource.strip_prefix("stream/").filter(|n| named(n))?;
                Some(Destination::Kinesis { region, account, name })
            }
            "dynamodb" => {
                let table = resource.strip_prefix("table/").filter(|n| named(n))?;
                Some(Destination::DynamoDb { region, account, table })
            }
            "s3" => Some(Destination::S3),
            _ => None,
        }
    }
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// Given up: why.
    Failed(String),
    /// sluice is shutting down: the caller keeps its checkpoint, so the batch (and its
    /// record) goes again after the restart.
    Stopped,
}

/// Why one attempt failed.
enum Attempt {
    /// Trying again cannot help.
    Never(String),
    Failed(String),
}

/// Delivers `record` to `destination`, retrying failed attempts.
pub async fn deliver(
    engine: &Engine,
    destination: &str,
    uuid: &str,
    request_id: &str,
    record: &[u8],
    shutdown: &mut watch::Receiver<bool>,
) -> Delivery {
    let config = &engine.config.lambda;
    let mut backoff = Backoff::new(
        Duration::from_millis(config.mapping_retry_initial_ms),
        Duration::from_millis(config.mapping_retry_max_ms),
    );
    let mut attempt = 0;
    loop {
        if *shutdown.borrow() {
            return Delivery::Stopped;
        }
        attempt += 1;
        let result = tokio::select! {
            r = deliver_once(engine, destination, uuid, request_id, record) => r,
            _ = crate::lambda::stopped(shutdown) => return Delivery::Stopped,
        };
        let why = match result {
            Ok(()) => return Delivery::Delivered,
            Err(Attempt::Never(why)) => return Delivery::Failed(why),
            Err(Attempt::Failed(why)) if attempt >= ATTEMPTS => {
                return Delivery::Failed(format!("{why} (after {attempt} attempts)"));
            }
            Err(Attempt::Failed(why)) => why,
        };
        let pause = backoff.next_delay(jitter());
        tracing::warn!(
            mapping = %uuid, destination, attempt,
            "cannot deliver the on-failure record ({why}); retrying in {pause:?}"
        );
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = crate::lambda::stopped(shutdown) => return Delivery::Stopped,
        }
    }
}

async fn deliver_once(
    engine: &Engine,
    destination: &str,
    uuid: &str,
    request_id: &str,
    record: &[u8],
) -> Result<(), Attempt> {
    let aws = &engine.ns;
    let here = |region: &str, account: &str| region == aws.region && account == aws.account;
    let body = String::from_utf8_lossy(record);
    match Destination::parse(destination) {
        None => Err(Attempt::Never("not a destination sluice can deliver to".into())),
        Some(Destination::S3) => {
            Err(Attempt::Never("S3 destinations are accepted but not delivered by sluice".into()))
        }
        Some(Destination::Sqs { region, account, name }) => {
            let endpoint = &engine.config.lambda.on_failure_sqs_endpoint;
            let q = Query::new(engine, endpoint, "sqs", region, "lambda.on_failure_sqs_endpoint")?;
            let answer = q
                .call(
                    "/",
                    &[
                        ("Action", "GetQueueUrl"),
                        ("QueueName", name),
                        ("QueueOwnerAWSAccountId", account),
                        ("Version", "2012-11-05"),
                    ],
                )
                .await?;
            let url = xml_text(&answer, "QueueUrl")
                .ok_or_else(|| Attempt::Failed("GetQueueUrl answered no QueueUrl".into()))?;
            // The queue's path on the configured endpoint: the URL's host may be a name
            // only the queue service's own network knows.
            let path = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"))
                .and_then(|rest| rest.find('/').map(|at| &rest[at..]))
                .unwrap_or("/");
            let params = [
                ("Action", "SendMessage"),
                ("QueueUrl", url.as_str()),
                ("MessageBody", &body),
                ("Version", "2012-11-05"),
            ];
            q.call(path, &params).await.map(drop)
        }
        Some(Destination::Sns { region, topic_arn }) => {
            let endpoint = &engine.config.lambda.on_failure_sns_endpoint;
            let q = Query::new(engine, endpoint, "sns", region, "lambda.on_failure_sns_endpoint")?;
            let params = [
                ("Action", "Publish"),
                ("TopicArn", topic_arn),
                ("Message", &body),
                ("Version", "2010-03-31"),
            ];
            q.call("/", &params).await.map(drop)
        }
        Some(Destination::Kinesis { region, account, name }) => {
            if !here(region, account) {
                return Err(Attempt::Never(format!(
                    "a Kinesis stream destination must be in the mapping's region {} and account {}",
                    aws.region, aws.account
                )));
            }
            let stream = engine
                .kinesis
                .get(name)
                .ok_or_else(|| Attempt::Failed(format!("Kinesis stream {name} not found")))?;
            let record = NewRecord::keyed(uuid.to_string(), record.to_vec());
            engine
                .kinesis_append(&stream, vec![record], Vec::new())
                .await
                .map(drop)
                .map_err(|e| Attempt::Failed(format!("Kinesis stream {name}: {e}")))
        }
        Some(Destination::DynamoDb { region, account, table }) => {
            if !here(region, account) {
                return Err(Attempt::Never(format!(
                    "a DynamoDB table destination must be in the mapping's region {} and account {}",
                    aws.region, aws.account
                )));
            }
            put_item(engine, table, request_id, &body).await
        }
    }
}

/// PutItem of `{<hash key>: requestId, "record": <json>}` in `name`.
async fn put_item(
    engine: &Engine,
    name: &str,
    request_id: &str,
    json: &str,
) -> Result<(), Attempt> {
    let table = engine
        .table(name)
        .filter(|t| !engine.is_creating(&t.meta()))
        .ok_or_else(|| Attempt::Failed(format!("DynamoDB table {name} not found")))?;
    let meta = table.meta();
    let key = &meta.key_schema;
    if key.hash.ty != ScalarType::S || key.range.is_some() || key.hash.name == "record" {
        return Err(Attempt::Never(format!(
            "DynamoDB table {name} must have a hash key of type S (not named 'record') and no sort key"
        )));
    }
    let hash = AttributeValue::S(request_id.to_string());
    let mut item = Item::new();
    item.insert(key.hash.name.clone(), hash.clone());
    item.insert("record".into(), AttributeValue::S(json.to_string()));
    crate::model::value::check_item_size(&item).map_err(|e| Attempt::Never(e.to_string()))?;
    let storage_key = Engine::storage_key(&meta, &hash, None);
    engine
        .write(&table, &hash, storage_key, Box::new(move |_| Ok(Some(item))))
        .await
        .map(drop)
        .map_err(|e| Attempt::Failed(format!("DynamoDB table {name}: {e}")))
}

/// One query-protocol service endpoint, for one call's region.
struct Query<'a> {
    client: HttpClient,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    region: &'a str,
    service: &'static str,
    engine: &'a Engine,
}

impl<'a> Query<'a> {
    fn new(
        engine: &'a Engine,
        endpoint: &str,
        service: &'static str,
        region: &'a str,
        key: &str,
    ) -> Result<Query<'a>, Attempt> {
        if endpoint.is_empty() {
            return Err(Attempt::Never(format!("{key} is not configured")));
        }
        let client = HttpClient::for_url(endpoint)
            .ok_or_else(|| Attempt::Never(format!("{key} is not an http:// or https:// URL")))?;
        let config = &engine.config.lambda;
        // The placeholder pair the Lambda endpoint's calls use too.
        let (access_key_id, secret_access_key) = if config.access_key_id.is_empty() {
            ("sluice", "sluice")
        } else {
            (config.access_key_id.as_str(), config.secret_access_key.as_str())
        };
        Ok(Query { client, access_key_id, secret_access_key, region, service, engine })
    }

    /// POSTs `params` form-encoded to `path`; the answer's body when it is a 2xx.
    async fn call(&self, path: &str, params: &[(&str, &str)]) -> Result<String, Attempt> {
        let body = form(params);
        let date = sigv4::amz_date(self.engine.clock.now_millis());
        const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
        let canonical: Vec<String> = path.split('/').map(encode_segment).collect();
        let canonical = canonical.join("/");
        let headers = [
            ("content-type", FORM),
            ("host", self.client.authority.as_str()),
            ("x-amz-date", date.as_str()),
        ];
        let request = sigv4::Request {
            method: "POST",
            path: &canonical,
            query: "",
            headers: &headers,
            payload: body.as_bytes(),
        };
        let signer = Signer {
            access_key_id: self.access_key_id,
            secret_access_key: self.secret_access_key,
            region: self.region,
            service: self.service,
        };
        let authorization = signer.authorization(&request, &date);
        let body = Bytes::from(body);
        let build = || {
            let mut r = hyper::Request::post(&canonical);
            for (name, value) in headers {
                r = r.header(name, value);
            }
            r.header("authorization", &authorization)
                .body(Full::new(body.clone()))
                .unwrap_or_default()
        };
        let deadline = Instant::now() + EXCHANGE_TIMEOUT;
        let answer = self
            .client
            .send(build, MAX_ANSWER, deadline)
            .await
            .map_err(|e| Attempt::Failed(e.to_string()))?;
        let text = String::from_utf8_lossy(&answer.body).into_owned();
        if (200..300).contains(&answer.status) {
            return Ok(text);
        }
        let code = xml_text(&text, "Code").unwrap_or_else(|| "Unknown".into());
        let message = xml_text(&text, "Message").unwrap_or_else(|| text.clone());
        Err(Attempt::Failed(format!(
            "{} answered HTTP {} {}: {}",
            self.client.authority,
            answer.status,
            truncate(&code, 128),
            truncate(&message, 512)
        )))
    }
}

/// `application/x-www-form-urlencoded` of `params` (RFC 3986 unreserved kept).
fn form(params: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode_segment(k), encode_segment(v)))
        .collect();
    pairs.join("&")
}

/// The text of the first `<tag>` element of an XML answer, entities decoded.
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    let text = &xml[start..end];
    Some(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_arns_by_kind() {
        assert_eq!(
            Destination::parse("arn:aws:sqs:us-east-1:123456789012:dlq"),
            Some(Destination::Sqs { region: "us-east-1", account: "123456789012", name: "dlq" })
        );
        assert_eq!(
            Destination::parse("arn:aws:sns:eu-west-1:123456789012:t"),
            Some(Destination::Sns {
                region: "eu-west-1",
                topic_arn: "arn:aws:sns:eu-west-1:123456789012:t"
            })
        );
        assert_eq!(
            Destination::parse("arn:aws:kinesis:us-east-1:000000000000:stream/failures"),
            Some(Destination::Kinesis {
                region: "us-east-1",
                account: "000000000000",
                name: "failures"
            })
        );
        assert_eq!(
            Destination::parse("arn:aws:dynamodb:us-east-1:000000000000:table/failures"),
            Some(Destination::DynamoDb {
                region: "us-east-1",
                account: "000000000000",
                table: "failures"
            })
        );
        assert_eq!(Destination::parse("arn:aws:s3:::bucket"), Some(Destination::S3));
        for bad in [
            "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x",
            "arn:aws:kinesis:us-east-1:000000000000:stream/",
            "arn:aws:lambda:us-east-1:000000000000:function:f",
            "arn:aws:sqs:us-east-1:000000000000",
            "nope",
        ] {
            assert_eq!(Destination::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn forms_and_xml() {
        assert_eq!(
            form(&[("Action", "SendMessage"), ("MessageBody", "{\"a\": \"b&c\"}")]),
            "Action=SendMessage&MessageBody=%7B%22a%22%3A%20%22b%26c%22%7D"
        );
        let answer = "<GetQueueUrlResponse><GetQueueUrlResult><QueueUrl>http://h:1/1/q?a=1&amp;b</QueueUrl></GetQueueUrlResult></GetQueueUrlResponse>";
        assert_eq!(xml_text(answer, "QueueUrl").as_deref(), Some("http://h:1/1/q?a=1&b"));
        assert_eq!(xml_text(answer, "Code"), None);
    }
}
