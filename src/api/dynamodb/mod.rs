//! The DynamoDB API: `X-Amz-Target` operation names become an `Operation` before any
//! logic runs; each operation decodes its input, runs its handler and encodes its output.

pub mod backups;
pub mod batch_get;
pub mod batch_write;
pub mod destinations;
pub mod error;
pub mod indexes;
pub mod items;
mod java_dump;
pub mod keys;
pub mod misc;
mod mutators;
pub mod partiql;
pub mod pitr;
pub mod query;
pub mod read;
pub mod scan;
pub mod table_create;
pub mod table_update;
pub mod tables;
#[cfg(test)]
mod tests_read_prop;
#[cfg(test)]
mod tests_stream_prop;
pub mod transact_get;
pub mod transact_write;
pub mod ttl;

pub use error::DynamoError;

crate::api::operations! {
    error: DynamoError, internal: DynamoError::Internal;
    CreateTable => table_create::create_table,
    DescribeTable => tables::describe_table,
    ListTables => tables::list_tables,
    UpdateTable => table_update::update_table,
    DeleteTable => tables::delete_table,
    PutItem => items::put_item,
    GetItem => items::get_item,
    UpdateItem => items::update_item,
    DeleteItem => items::delete_item,
    Query => query::query,
    Scan => scan::scan,
    BatchGetItem => batch_get::batch_get_item,
    BatchWriteItem => batch_write::batch_write_item,
    TransactWriteItems => transact_write::transact_write_items,
    TransactGetItems => transact_get::transact_get_items,
    TagResource => misc::tag_resource,
    UntagResource => misc::untag_resource,
    ListTagsOfResource => misc::list_tags_of_resource,
    DescribeLimits => misc::describe_limits,
    DescribeEndpoints => misc::describe_endpoints,
    UpdateTimeToLive => ttl::update_time_to_live,
    EnableKinesisStreamingDestination => destinations::enable,
    DisableKinesisStreamingDestination => destinations::disable,
    DescribeKinesisStreamingDestination => destinations::describe,
    UpdateKinesisStreamingDestination => destinations::update,
    DescribeTimeToLive => ttl::describe_time_to_live,
    ExecuteStatement => partiql::execute_statement,
    BatchExecuteStatement => partiql::batch_execute_statement,
    ExecuteTransaction => partiql::execute_transaction,
    CreateBackup => backups::create_backup,
    DescribeBackup => backups::describe_backup,
    ListBackups => backups::list_backups,
    DeleteBackup => backups::delete_backup,
    RestoreTableFromBackup => backups::restore_table_from_backup,
    UpdateContinuousBackups => pitr::update_continuous_backups,
    DescribeContinuousBackups => pitr::describe_continuous_backups,
    RestoreTableToPointInTime => pitr::restore_table_to_point_in_time,
}

#[cfg(test)]
mod tests {
    use super::Operation;

    #[test]
    fn names_round_trip() {
        for name in ["PutItem", "CreateTable", "DescribeEndpoints"] {
            assert_eq!(Operation::from_name(name).map(Operation::name), Some(name));
        }
        assert_eq!(Operation::from_name("putItem"), None);
        assert_eq!(Operation::from_name("CreateGlobalTable"), None);
    }
}
