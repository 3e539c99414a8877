//! Enhanced fan-out consumers: persisted in their stream's record (so they live and die
//! with it and survive restarts), with a status derived from the clock rather than kept
//! by timers: CREATING for `kinesis.consumer_create_delay_ms` after registration, then
//! ACTIVE; DELETING for `kinesis.consumer_delete_delay_ms` after deregistration, then
//! gone. A gone consumer is dropped from the record at the stream's next update.
//!
//! Deregistering ends the consumer's open subscriptions at once (AWS: "a consumer can't
//! read data while in the CREATING or DELETING states") and drops its metric series.

use serde::{Deserialize, Serialize};

use super::fanout::EndReason;
use super::meta::StreamMeta;
use super::{LiveStream, StreamError};
use crate::engine::Engine;

/// Most consumers a stream may have (AWS: 20; 50 with On-demand Advantage).
pub const MAX_CONSUMERS: usize = 20;
/// Most consumers that may be CREATING at once (AWS: 5).
pub const MAX_CREATING: usize = 5;

/// One registered consumer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerMeta {
    pub name: String,
    /// Registration time; the ARN carries it in whole seconds.
    pub created_ms: i64,
    /// Set by DeregisterStreamConsumer.
    pub deleting_since_ms: Option<i64>,
}

/// What DescribeStreamConsumer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerStatus {
    Creating,
    Active,
    Deleting,
}

impl ConsumerStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumerStatus::Creating => "CREATING",
            ConsumerStatus::Active => "ACTIVE",
            ConsumerStatus::Deleting => "DELETING",
        }
    }
}

/// The two delays a consumer's status depends on.
#[derive(Debug, Clone, Copy)]
pub struct ConsumerDelays {
    pub create_ms: u64,
    pub delete_ms: u64,
}

impl ConsumerMeta {
    /// The status at `now_ms`; `None` once a deregistered consumer is gone.
    pub fn status(&self, now_ms: i64, delays: ConsumerDelays) -> Option<ConsumerStatus> {
        match self.deleting_since_ms {
            Some(t) if now_ms >= t.saturating_add(delays.delete_ms as i64) => None,
            Some(_) => Some(ConsumerStatus::Deleting),
            None if now_ms < self.created_ms.saturating_add(delays.create_ms as i64) => {
                Some(ConsumerStatus::Creating)
            }
            None => Some(ConsumerStatus::Active),
        }
    }

    /// Registration time in whole epoch seconds, as the ARN carries it.
    pub fn created_secs(&self) -> i64 {
        self.created_ms.div_euclid(1000)
    }

    /// `arn:aws:kinesis:<region>:<account>:stream/<stream>/consumer/<name>:<epoch-seconds>`.
    pub fn arn(&self, region: &str, account: &str, stream: &str) -> String {
        format!(
            "arn:aws:kinesis:{region}:{account}:stream/{stream}/consumer/{}:{}",
            self.name,
            self.created_secs()
        )
    }
}

/// The parts of a consumer ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerArn<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub stream: &'a str,
    pub consumer: &'a str,
    pub created_secs: i64,
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Parses a consumer ARN (the model's pattern, anchored at both ends).
pub fn parse_consumer_arn(arn: &str) -> Option<ConsumerArn<'_>> {
    let rest = arn.strip_prefix("arn:aws")?;
    let (_, rest) = rest.split_once(":kinesis:")?;
    let (region, rest) = rest.split_once(':')?;
    let (account, resource) = rest.split_once(':')?;
    let (stream, rest) = resource.strip_prefix("stream/")?.split_once("/consumer/")?;
    let (consumer, secs) = rest.rsplit_once(':')?;
    let valid = account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && is_name(stream)
        && is_name(consumer)
        && !secs.is_empty()
        && secs.len() <= 18
        && secs.bytes().all(|b| b.is_ascii_digit());
    let created_secs = secs.parse().ok()?;
    valid.then_some(ConsumerArn { region, account, stream, consumer, created_secs })
}

impl StreamMeta {
    /// The consumers that still exist at `now_ms`, with their status.
    pub fn live_consumers(
        &self,
        now_ms: i64,
        delays: ConsumerDelays,
    ) -> impl Iterator<Item = (&ConsumerMeta, ConsumerStatus)> {
        self.consumers.iter().filter_map(move |c| c.status(now_ms, delays).map(|s| (c, s)))
    }

    /// A consumer that still exists, by name.
    pub fn consumer(
        &self,
        name: &str,
        now_ms: i64,
        delays: ConsumerDelays,
    ) -> Option<(&ConsumerMeta, ConsumerStatus)> {
        self.live_consumers(now_ms, delays).find(|(c, _)| c.name == name)
    }

    /// Drops the consumers that are gone.
    pub fn prune_consumers(&mut self, now_ms: i64, delays: ConsumerDelays) {
        self.consumers.retain(|c| c.status(now_ms, delays).is_some());
    }
}

impl Engine {
    /// The configured consumer delays.
    pub fn consumer_delays(&self) -> ConsumerDelays {
        ConsumerDelays {
            create_ms: self.config.kinesis.consumer_create_delay_ms,
            delete_ms: self.config.kinesis.consumer_delete_delay_ms,
        }
    }

    /// Registered consumers of a stream (DescribeStreamSummary's ConsumerCount, and what
    /// DeleteStream's EnforceConsumerDeletion check counts).
    pub fn kinesis_consumer_count(&self, stream: &LiveStream) -> u32 {
        let now = self.clock.now_millis();
        stream.meta().live_consumers(now, self.consumer_delays()).count() as u32
    }

    /// Registers consumer `name` after `check` (run under the stream's lock on the
    /// current consumers, gone ones already dropped) accepts it.
    pub async fn register_kinesis_consumer<E: From<StreamError>>(
        &self,
        stream: &LiveStream,
        name: &str,
        check: impl FnOnce(&StreamMeta, i64) -> Result<(), E>,
    ) -> Result<ConsumerMeta, E> {
        let now = self.clock.now_millis();
        let delays = self.consumer_delays();
        let consumer =
            ConsumerMeta { name: name.to_string(), created_ms: now, deleting_since_ms: None };
        let added = consumer.clone();
        self.update_kinesis_stream::<E>(stream, move |meta| {
            meta.prune_consumers(now, delays);
            check(meta, now)?;
            meta.consumers.push(added);
            Ok(())
        })
        .await?;
        // Its series exist at 0 until its first subscription (no "No data").
        let _ = self.metrics.fanout.series(stream.name(), name);
        Ok(consumer)
    }

    /// Starts deleting consumer `name` (registered at `created_ms`), after `check`
    /// accepts the consumer found (or its absence); ends its subscriptions and drops its
    /// metric series.
    pub async fn deregister_kinesis_consumer<E: From<StreamError>>(
        &self,
        stream: &LiveStream,
        name: &str,
        check: impl FnOnce(Option<&ConsumerMeta>) -> Result<(), E>,
    ) -> Result<ConsumerMeta, E> {
        let now = self.clock.now_millis();
        let delays = self.consumer_delays();
        let mut found = None;
        self.update_kinesis_stream::<E>(stream, |meta| {
            meta.prune_consumers(now, delays);
            let consumer = meta.consumers.iter_mut().find(|c| c.name == name);
            check(consumer.as_deref())?;
            if let Some(c) = consumer {
                c.deleting_since_ms.get_or_insert(now);
                found = Some(c.clone());
            }
            Ok(())
        })
        .await?;
        let consumer = found.ok_or(StreamError::NotFound)?;
        self.kinesis.fanout.end_consumer(stream.id(), &consumer.name, EndReason::ConsumerDeleted);
        self.metrics.fanout.forget_consumer(stream.name(), &consumer.name);
        if let Some(limits) = &stream.limits {
            limits.forget_consumer(&consumer.name);
        }
        Ok(consumer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELAYS: ConsumerDelays = ConsumerDelays { create_ms: 100, delete_ms: 50 };

    #[test]
    fn status_follows_the_clock() {
        let mut c = ConsumerMeta { name: "c".into(), created_ms: 1_000, deleting_since_ms: None };
        assert_eq!(c.status(1_099, DELAYS), Some(ConsumerStatus::Creating));
        assert_eq!(c.status(1_100, DELAYS), Some(ConsumerStatus::Active));
        c.deleting_since_ms = Some(2_000);
        assert_eq!(c.status(2_049, DELAYS), Some(ConsumerStatus::Deleting));
        assert_eq!(c.status(2_050, DELAYS), None);
    }

    #[test]
    fn arns_round_trip() {
        let c = ConsumerMeta {
            name: "app-1".into(),
            created_ms: 1_525_898_737_999,
            deleting_since_ms: None,
        };
        let arn = c.arn("us-east-1", "000000000000", "orders");
        assert_eq!(
            arn,
            "arn:aws:kinesis:us-east-1:000000000000:stream/orders/consumer/app-1:1525898737"
        );
        let parsed = parse_consumer_arn(&arn).unwrap();
        assert_eq!(
            parsed,
            ConsumerArn {
                region: "us-east-1",
                account: "000000000000",
                stream: "orders",
                consumer: "app-1",
                created_secs: 1_525_898_737
            }
        );
        for bad in [
            "arn:aws:kinesis:us-east-1:000000000000:stream/orders",
            "arn:aws:kinesis:us-east-1:0000:stream/o/consumer/c:1",
            "arn:aws:kinesis:us-east-1:000000000000:stream/o/consumer/c:",
            "arn:aws:kinesis:us-east-1:000000000000:stream/o/consumer/c:1x",
            "arn:aws:kinesis:us-east-1:000000000000:stream/o/consumer/c d:1",
            "arn:aws:kinesis:us-east-1:000000000000:stream/o/consumer/c:99999999999999999999",
        ] {
            assert_eq!(parse_consumer_arn(bad), None, "{bad}");
        }
    }
}
