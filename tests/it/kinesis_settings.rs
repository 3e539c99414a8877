//! Kinesis stream settings and tags through the SDK: retention with AWS's messages, stream
//! mode, maximum record size, encryption and enhanced monitoring (recorded and reported),
//! DescribeLimits, and both tag APIs.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{
    EncryptionType, MetricsName, ScalingType, StreamMode, StreamModeDetails,
};

use crate::harness::{Server, error_of};
use crate::kinesis::{arn, create};

#[tokio::test]
async fn retention_mode_size_encryption_monitoring_limits() {
    // Stream encryption is reported only where records are sealed at rest.
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("key");
    std::fs::write(&key, [9u8; 32]).unwrap();
    let server = Server::start_with_config(&format!(
        "[storage]\nencryption_key_file = {:?}\n",
        key.display().to_string()
    ));
    let k = server.kinesis();
    create(&k, "s", 2).await;
    let inc = |h: i32| {
        k.increase_stream_retention_period().stream_name("s").retention_period_hours(h).send()
    };
    let dec = |h: i32| {
        k.decrease_stream_retention_period().stream_name("s").retention_period_hours(h).send()
    };
    inc(8760).await.unwrap();
    let summary = || k.describe_stream_summary().stream_name("s").send();
    assert_eq!(
        summary().await.unwrap().stream_description_summary.unwrap().retention_period_hours,
        8760
    );
    let (code, message) = error_of(inc(8761).await);
    assert_eq!(code, "InvalidArgumentException");
    assert_eq!(
        message,
        "Maximum allowed retention period is 8760 hours. Requested retention period (8761 hours) is too long."
    );
    let (_, message) = error_of(dec(23).await);
    assert_eq!(
        message,
        "Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is too short."
    );
    let (_, message) = error_of(inc(48).await);
    assert_eq!(
        message,
        "Requested retention period (48 hours) for stream s can not be shorter than existing retention period (8760 hours). Use DecreaseRetentionPeriod API."
    );
    dec(48).await.unwrap();
    let (_, message) = error_of(dec(100).await);
    assert_eq!(
        message,
        "Requested retention period (100 hours) for stream s can not be longer than existing retention period (48 hours). Use IncreaseRetentionPeriod API."
    );

    // Maximum record size: 1 MiB by default, up to 10 MiB.
    let big = vec![7u8; 2 * 1024 * 1024];
    let (code, _) = error_of(
        k.put_record()
            .stream_name("s")
            .partition_key("a")
            .data(Blob::new(big.clone()))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    k.update_max_record_size()
        .stream_arn(arn("s"))
        .max_record_size_in_kib(4096)
        .send()
        .await
        .unwrap();
    k.put_record().stream_name("s").partition_key("a").data(Blob::new(big)).send().await.unwrap();
    let (code, _) = error_of(
        k.update_max_record_size().stream_arn(arn("s")).max_record_size_in_kib(10241).send().await,
    );
    assert_eq!(code, "ValidationException");

    // Mode: on-demand streams are not resharded by hand.
    let on_demand = StreamModeDetails::builder().stream_mode(StreamMode::OnDemand).build().unwrap();
    k.update_stream_mode()
        .stream_arn(arn("s"))
        .stream_mode_details(on_demand)
        .send()
        .await
        .unwrap();
    let s = summary().await.unwrap().stream_description_summary.unwrap();
    assert_eq!(s.stream_mode_details.unwrap().stream_mode, StreamMode::OnDemand);
    let (code, _) = error_of(
        k.update_shard_count()
            .stream_name("s")
            .target_shard_count(3)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");

    // Without sealing at rest, StartStreamEncryption is refused rather than pretended.
    let plain = Server::start();
    let pk = plain.kinesis();
    create(&pk, "s", 1).await;
    let e = pk
        .start_stream_encryption()
        .stream_name("s")
        .encryption_type(EncryptionType::Kms)
        .key_id("alias/aws/kinesis")
        .send()
        .await
        .unwrap_err();
    let e = e.into_service_error();
    assert!(e.is_invalid_argument_exception(), "{e:?}");

    // With it, encryption is recorded: records and descriptions report KMS.
    k.start_stream_encryption()
        .stream_name("s")
        .encryption_type(EncryptionType::Kms)
        .key_id("alias/aws/kinesis")
        .send()
        .await
        .unwrap();
    let s = summary().await.unwrap().stream_description_summary.unwrap();
    assert_eq!(
        (s.encryption_type, s.key_id.as_deref()),
        (Some(EncryptionType::Kms), Some("alias/aws/kinesis"))
    );
    let put = k
        .put_record()
        .stream_name("s")
        .partition_key("a")
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.encryption_type, Some(EncryptionType::Kms));
    k.stop_stream_encryption()
        .stream_name("s")
        .encryption_type(EncryptionType::Kms)
        .key_id("alias/aws/kinesis")
        .send()
        .await
        .unwrap();
    let s = summary().await.unwrap().stream_description_summary.unwrap();
    assert_eq!(s.encryption_type, Some(EncryptionType::None));

    let r = k
        .enable_enhanced_monitoring()
        .stream_name("s")
        .shard_level_metrics(MetricsName::IncomingBytes)
        .send()
        .await
        .unwrap();
    assert_eq!(r.current_shard_level_metrics(), &[] as &[MetricsName]);
    assert_eq!(r.desired_shard_level_metrics(), &[MetricsName::IncomingBytes]);
    let r = k
        .enable_enhanced_monitoring()
        .stream_name("s")
        .shard_level_metrics(MetricsName::All)
        .send()
        .await
        .unwrap();
    assert_eq!(r.desired_shard_level_metrics().len(), 7);
    let r = k
        .disable_enhanced_monitoring()
        .stream_name("s")
        .shard_level_metrics(MetricsName::IncomingBytes)
        .send()
        .await
        .unwrap();
    assert_eq!(r.desired_shard_level_metrics().len(), 6);
    let s = summary().await.unwrap().stream_description_summary.unwrap();
    assert_eq!(s.enhanced_monitoring[0].shard_level_metrics().len(), 6);

    let limits = k.describe_limits().send().await.unwrap();
    assert_eq!(
        (limits.shard_limit, limits.open_shard_count, limits.on_demand_stream_count),
        (500, 2, 1)
    );
}

#[tokio::test]
async fn tags_by_stream_and_by_arn() {
    let server = Server::start();
    let k = server.kinesis();
    create(&k, "s", 1).await;
    k.add_tags_to_stream()
        .stream_name("s")
        .tags("b", "2")
        .tags("a", "1")
        .tags("c", "3")
        .send()
        .await
        .unwrap();
    let t = k.list_tags_for_stream().stream_name("s").limit(2).send().await.unwrap();
    let keys: Vec<&str> = t.tags.iter().map(|t| t.key.as_str()).collect();
    assert_eq!((keys, t.has_more_tags), (vec!["a", "b"], true));
    let t = k
        .list_tags_for_stream()
        .stream_name("s")
        .exclusive_start_tag_key("b")
        .send()
        .await
        .unwrap();
    assert_eq!(t.tags.len(), 1);
    k.remove_tags_from_stream()
        .stream_name("s")
        .tag_keys("a")
        .tag_keys("zzz")
        .send()
        .await
        .unwrap();
    k.tag_resource().resource_arn(arn("s")).tags("d", "4").send().await.unwrap();
    k.untag_resource().resource_arn(arn("s")).tag_keys("b").send().await.unwrap();
    let t = k.list_tags_for_resource().resource_arn(arn("s")).send().await.unwrap();
    let pairs: Vec<(String, String)> = t
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.value.unwrap_or_default()))
        .collect();
    assert_eq!(pairs, [("c".to_string(), "3".to_string()), ("d".into(), "4".into())]);
    let mut too_many = k.add_tags_to_stream().stream_name("s");
    for i in 0..49 {
        too_many = too_many.tags(format!("k{i}"), "v");
    }
    let (code, message) = error_of(too_many.send().await);
    assert_eq!(code, "InvalidArgumentException");
    assert!(message.contains("cannot have more than 50 tags"), "{message}");
    let (code, _) =
        error_of(k.add_tags_to_stream().stream_name("s").tags("bad#", "v").send().await);
    assert_eq!(code, "InvalidArgumentException");
    let (code, _) = error_of(
        k.list_tags_for_resource()
            .resource_arn("arn:aws:kinesis:us-east-1:000000000000:stream/none")
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
}
