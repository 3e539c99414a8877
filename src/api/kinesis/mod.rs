//! The Kinesis Data Streams API (awsJson 1.1): `X-Amz-Target` operation names become an
//! `Operation` before any logic runs; each operation decodes its typed input, runs its
//! handler and encodes its typed output. Blobs are base64 and timestamps epoch seconds
//! here; the CBOR codec (Java SDK, KCL) converts to and from this JSON at the protocol
//! layer, so handlers never see which one the client spoke.

pub mod consumers;
pub mod error;
pub mod input;
#[cfg(test)]
mod iterator_tests;
pub mod list_streams;
pub mod paging;
pub mod put_answer;
pub mod reads;
pub mod records;
pub mod reshard;
pub mod settings;
pub mod shapes;
pub mod shards;
pub mod streams;
pub mod subscribe;
pub mod tags;

pub use error::KinesisError;
use serde::Serialize;

/// An empty JSON object, the output of operations that return nothing.
#[derive(Serialize, Debug)]
pub struct Empty {}

crate::api::operations! {
    error: KinesisError, internal: KinesisError::InternalFailure;
    CreateStream => streams::create_stream,
    DeleteStream => streams::delete_stream,
    DescribeStream => streams::describe_stream,
    DescribeStreamSummary => streams::describe_stream_summary,
    ListStreams => list_streams::list_streams,
    ListShards => shards::list_shards,
    PutRecord => records::put_record,
    PutRecords => records::put_records as put_answer::put_records_output,
    GetShardIterator => reads::get_shard_iterator,
    GetRecords => reads::get_records,
    IncreaseStreamRetentionPeriod => settings::increase_stream_retention_period,
    DecreaseStreamRetentionPeriod => settings::decrease_stream_retention_period,
    SplitShard => reshard::split_shard,
    MergeShards => reshard::merge_shards,
    UpdateShardCount => reshard::update_shard_count,
    UpdateStreamMode => settings::update_stream_mode,
    UpdateMaxRecordSize => settings::update_max_record_size,
    StartStreamEncryption => settings::start_stream_encryption,
    StopStreamEncryption => settings::stop_stream_encryption,
    EnableEnhancedMonitoring => settings::enable_enhanced_monitoring,
    DisableEnhancedMonitoring => settings::disable_enhanced_monitoring,
    DescribeLimits => settings::describe_limits,
    AddTagsToStream => tags::add_tags_to_stream,
    RemoveTagsFromStream => tags::remove_tags_from_stream,
    ListTagsForStream => tags::list_tags_for_stream,
    TagResource => tags::tag_resource,
    UntagResource => tags::untag_resource,
    ListTagsForResource => tags::list_tags_for_resource,
    RegisterStreamConsumer => consumers::register_stream_consumer,
    DescribeStreamConsumer => consumers::describe_stream_consumer,
    ListStreamConsumers => consumers::list_stream_consumers,
    DeregisterStreamConsumer => consumers::deregister_stream_consumer,
}

#[cfg(test)]
mod tests {
    use super::Operation;

    #[test]
    fn names_round_trip() {
        for name in ["PutRecords", "GetShardIterator", "ListTagsForResource", "ListStreamConsumers"]
        {
            assert_eq!(Operation::from_name(name).map(Operation::name), Some(name));
        }
        // Its output is an event stream: the server routes it to `subscribe` instead.
        assert_eq!(Operation::from_name("SubscribeToShard"), None);
    }
}
