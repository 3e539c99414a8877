//! Enabling, disabling and updating a table's Kinesis streaming destination, and
//! (re)starting its forwarder. One destination forwards at a time; enabling turns change
//! logging on and sets each partition's cursor at the partition's next sequence number,
//! taken by the partition writers, so the destination receives every change made after
//! the enable and nothing before it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::destination::{Destination, DestinationStatus};
use super::forwarder;
use super::inline::NO_CURSOR;
use super::record::Precision;
use crate::engine::catalog::TableMeta;
use crate::engine::kinesis::{CursorMove, StreamError};
use crate::engine::stream_ops::boundaries;
use crate::engine::{Engine, EngineError};
use crate::storage::{Mutation, Space, keys};

/// Why a destination change was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DestinationError {
    /// The table's destinations are not in a state that allows the change.
    #[error("{0}")]
    InvalidState(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl Engine {
    /// Enables forwarding `table`'s changes to the Kinesis stream `stream_name`
    /// (`stream_arn` as the caller gave it): a stream of this sluice, or with `remote` one
    /// on the configured endpoint for `stream_arn` (not checked here: it may be down, and
    /// changes wait for it). A missing local stream leaves the destination ENABLE_FAILED,
    /// as AWS reports it.
    pub async fn enable_destination(
        self: &Arc<Self>,
        table: &str,
        stream_arn: &str,
        stream_name: &str,
        remote: bool,
        precision: Option<Precision>,
    ) -> Result<Destination, DestinationError> {
        let live = self.table(table).ok_or(EngineError::TableNotFound)?;
        let stream_exists = remote || self.kinesis.get(stream_name).is_some();
        let now = self.clock.now_millis();
        let destination = Destination {
            stream_arn: stream_arn.to_string(),
            stream_name: stream_name.to_string(),
            status: if stream_exists {
                DestinationStatus::Active
            } else {
                DestinationStatus::EnableFailed
            },
            description: (!stream_exists).then(|| format!("Kinesis stream {stream_arn} not found")),
            precision,
            enabled_ms: now,
            remote,
        };
        let meta = self
            .update_table(table, |m: &mut TableMeta| {
                if m.forwarding_destination().is_some() {
                    return Err(DestinationError::InvalidState(
                        "Table is not in a valid state to enable Kinesis Streaming Destination:EnableKinesisStreamingDestination must be DISABLED or ENABLE_FAILED to perform ENABLE operation.".into(),
                    ));
                }
                m.destinations.retain(|d| d.stream_arn != stream_arn);
                m.destinations.push(destination.clone());
                Ok(())
            })
            .await?;
        if stream_exists {
            // Logging is on from the metadata update; the cursors start at the first
            // change after it.
            let starts = boundaries(&live).await?;
            let cursors = starts
                .iter()
                .enumerate()
                .map(|(p, seq)| {
                    Mutation::put(
                        Space::Meta,
                        keys::bridge_cursor(meta.id, p as u32),
                        seq.to_be_bytes().to_vec(),
                    )
                })
                .collect();
            self.committer.commit(cursors, 0).await.map_err(EngineError::from)?;
            // From here on the table's writers forward their own changes.
            for (cell, seq) in live.counters.bridge_cursors.iter().zip(&starts) {
                cell.store(*seq, Ordering::Release);
            }
            forwarder::spawn(self, table, meta.id);
        }
        Ok(destination)
    }

    /// Disables the table's destination to `stream_arn`.
    pub async fn disable_destination(
        &self,
        table: &str,
        stream_arn: &str,
    ) -> Result<Destination, DestinationError> {
        let mut disabled = None;
        let meta = self
            .update_table(table, |m: &mut TableMeta| {
                let Some(d) = m.destinations.iter_mut().find(|d| d.stream_arn == stream_arn && d.status.forwarding())
                else {
                    return Err(DestinationError::InvalidState(
                        "Table is not in a valid state to disable Kinesis Streaming Destination:DisableKinesisStreamingDestination must be ACTIVE to perform DISABLE operation.".into(),
                    ));
                };
                d.status = DestinationStatus::Disabled;
                disabled = Some(d.clone());
                Ok(())
            })
            .await?;
        let destination = disabled.expect("set when the update succeeded");
        // A table write that began forwarding before the update may still be queued at
        // the stream's writer with a cursor move: the cursors are deleted through that
        // writer too, so such a move finds them gone instead of bringing one back (a
        // cursor left behind would keep the change log from being trimmed).
        if !destination.remote
            && let Some(stream) = self.kinesis.get(&destination.stream_name)
            && let Some(live) = self.table(table).filter(|t| t.meta().id == meta.id)
        {
            for (partition, cell) in live.counters.bridge_cursors.iter().enumerate() {
                loop {
                    let from = cell.load(Ordering::Acquire);
                    let delete = CursorMove {
                        cell: cell.clone(),
                        key: keys::bridge_cursor(meta.id, partition as u32),
                        from,
                        to: NO_CURSOR,
                    };
                    match self
                        .kinesis_append_at(&stream, Vec::new(), Vec::new(), Some(delete))
                        .await
                    {
                        Ok(Some(_)) => break,
                        Ok(None) => continue, // it moved meanwhile: delete from there
                        Err(StreamError::Storage(e)) => return Err(EngineError::from(e).into()),
                        Err(_) => break, // the stream is gone, and with it any queued move
                    }
                }
            }
        }
        // The forwarder sees the destination gone and stops; its cursors go with it.
        let cursors: Vec<Mutation> = self
            .store
            .scan_prefix(Space::Meta, &keys::bridge_cursor_prefix(meta.id))
            .filter_map(Result::ok)
            .map(|(k, _)| Mutation::delete(Space::Meta, k))
            .collect();
        self.committer.commit(cursors, 0).await.map_err(EngineError::from)?;
        if let Some(live) = self.table(table).filter(|t| t.meta().id == meta.id) {
            for cell in &live.counters.bridge_cursors {
                cell.store(NO_CURSOR, Ordering::Release);
            }
        }
        self.metrics.bridge.forget(table, &destination.stream_name);
        Ok(destination)
    }

    /// Changes the precision of the table's forwarding destination to `stream_arn`.
    pub async fn update_destination(
        &self,
        table: &str,
        stream_arn: &str,
        precision: Precision,
    ) -> Result<Destination, DestinationError> {
        let mut updated = None;
        self.update_table(table, |m: &mut TableMeta| {
            let Some(d) = m.destinations.iter_mut().find(|d| d.stream_arn == stream_arn && d.status.forwarding())
            else {
                return Err(DestinationError::InvalidState(
                    "Table is not in a valid state to update Kinesis Streaming Destination:UpdateKinesisStreamingDestination must be ACTIVE to perform UPDATE operation.".into(),
                ));
            };
            d.precision = Some(precision);
            updated = Some(d.clone());
            Ok(())
        })
        .await?;
        Ok(updated.expect("set when the update succeeded"))
    }

    /// Marks the table's forwarding destination ENABLE_FAILED (its stream is gone).
    pub(super) async fn fail_destination(&self, table: &str, why: String) {
        let result = self
            .update_table(table, |m: &mut TableMeta| {
                if let Some(d) = m.destinations.iter_mut().find(|d| d.status.forwarding()) {
                    d.status = DestinationStatus::EnableFailed;
                    d.description = Some(why);
                }
                Ok::<(), EngineError>(())
            })
            .await;
        if let Err(e) = result {
            tracing::warn!("could not record the failed destination of {table}: {e}");
        }
    }

    /// Restarts the forwarders of every table with a forwarding destination (at open).
    pub(crate) fn resume_bridges(self: &Arc<Self>) {
        for name in self.table_names() {
            if let Some(table) = self.table(&name) {
                let meta = table.meta();
                if meta.forwarding_destination().is_some() {
                    forwarder::spawn(self, &name, meta.id);
                }
            }
        }
    }
}
