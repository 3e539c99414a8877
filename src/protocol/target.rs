//! `X-Amz-Target` parsing: `<prefix>.<Operation>` becomes a service and an operation name
//! before any logic runs.

/// The APIs served on one port: three awsJson ones routed by `X-Amz-Target`, and Lambda
/// (restJson1), routed by method and path (`protocol::rest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    DynamoDb,
    DynamoDbStreams,
    Kinesis,
    Lambda,
}

impl Service {
    /// The `service` label of request metrics.
    pub fn label(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb",
            Service::DynamoDbStreams => "dynamodbstreams",
            Service::Kinesis => "kinesis",
            Service::Lambda => "lambda",
        }
    }

    /// The `X-Amz-Target` prefix of the service's operations (none for Lambda, which
    /// is routed by path).
    pub fn target_prefix(self) -> &'static str {
        match self {
            Service::DynamoDb => "DynamoDB_20120810",
            Service::DynamoDbStreams => "DynamoDBStreams_20120810",
            Service::Kinesis => "Kinesis_20131202",
            Service::Lambda => "",
        }
    }

    /// The content type the service answers with.
    pub fn content_type(self) -> &'static str {
        match self {
            Service::DynamoDb | Service::DynamoDbStreams => "application/x-amz-json-1.0",
            Service::Kinesis => "application/x-amz-json-1.1",
            Service::Lambda => "application/json",
        }
    }

    /// DynamoDB responses carry `x-amz-crc32`, which its clients verify.
    pub fn sends_crc32(self) -> bool {
        matches!(self, Service::DynamoDb)
    }

    fn from_prefix(prefix: &str) -> Option<Service> {
        [Service::DynamoDb, Service::DynamoDbStreams, Service::Kinesis]
            .into_iter()
            .find(|s| s.target_prefix() == prefix)
    }
}

/// A parsed `X-Amz-Target` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub service: Service,
    pub operation: String,
}

impl Target {
    /// Parses `DynamoDB_20120810.PutItem`; `None` when the prefix is not one we serve.
    pub fn parse(header: &str) -> Option<Target> {
        let (prefix, operation) = header.split_once('.')?;
        let service = Service::from_prefix(prefix)?;
        if operation.is_empty() || operation.contains('.') {
            return None;
        }
        Some(Target { service, operation: operation.to_string() })
    }
}

/// Which service a request without a usable target most likely meant, for its error style.
pub fn guess_service(header: Option<&str>, content_type: Option<&str>) -> Service {
    if header.is_some_and(|h| h.starts_with("Kinesis_"))
        || content_type.is_some_and(|c| c.contains("1.1"))
    {
        Service::Kinesis
    } else if header.is_some_and(|h| h.starts_with("DynamoDBStreams_")) {
        Service::DynamoDbStreams
    } else {
        Service::DynamoDb
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_each_prefix() {
        let cases = [
            ("DynamoDB_20120810.PutItem", Some((Service::DynamoDb, "PutItem"))),
            ("DynamoDBStreams_20120810.GetRecords", Some((Service::DynamoDbStreams, "GetRecords"))),
            ("Kinesis_20131202.PutRecord", Some((Service::Kinesis, "PutRecord"))),
            ("DynamoDB_20111205.PutItem", None),
            ("DynamoDB_20120810", None),
            ("DynamoDB_20120810.", None),
            ("DynamoDB_20120810.A.B", None),
            ("", None),
        ];
        for (header, want) in cases {
            let got = Target::parse(header).map(|t| (t.service, t.operation));
            assert_eq!(got, want.map(|(s, o)| (s, o.to_string())), "{header}");
        }
    }
}
