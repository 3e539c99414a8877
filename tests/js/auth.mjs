// Drives sluice with the AWS SDK for JavaScript v3, signing with AKIDEXAMPLE and the secret
// given: prints each call's outcome ("ok" or the error's name) as JSON.
// Usage: node auth.mjs <endpoint> <secret>
import { DynamoDBClient, CreateTableCommand, PutItemCommand, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBStreamsClient, ListStreamsCommand as ListDdbStreams } from "@aws-sdk/client-dynamodb-streams";
import { KinesisClient, CreateStreamCommand, ListStreamsCommand, PutRecordCommand } from "@aws-sdk/client-kinesis";
import { LambdaClient, ListFunctionsCommand, GetFunctionCommand, ListEventSourceMappingsCommand } from "@aws-sdk/client-lambda";

const [endpoint, secret] = process.argv.slice(2);
const config = {
  endpoint,
  region: "us-east-1",
  maxAttempts: 1,
  credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: secret },
};
const ddb = new DynamoDBClient(config);
const streams = new DynamoDBStreamsClient(config);
const kinesis = new KinesisClient(config);
const lambda = new LambdaClient(config);
const out = {};
async function call(name, f) {
  try {
    await f();
    out[name] = "ok";
  } catch (e) {
    out[name] = e.name;
  }
}
await call("create_table", () => ddb.send(new CreateTableCommand({
  TableName: "js-auth",
  AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
  KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
  BillingMode: "PAY_PER_REQUEST",
  StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_IMAGE" },
})));
await call("put_item", () => ddb.send(new PutItemCommand({ TableName: "js-auth", Item: { id: { S: "a b/c:d" } } })));
await call("list_tables", () => ddb.send(new ListTablesCommand({})));
await call("list_streams", () => streams.send(new ListDdbStreams({ TableName: "js-auth" })));
await call("create_stream", () => kinesis.send(new CreateStreamCommand({ StreamName: "js-auth", ShardCount: 1 })));
await call("list_kinesis", () => kinesis.send(new ListStreamsCommand({})));
await call("list_functions", () => lambda.send(new ListFunctionsCommand({ MaxItems: 5 })));
await call("get_function", () => lambda.send(new GetFunctionCommand({
  FunctionName: "arn:aws:lambda:us-east-1:000000000000:function:nope",
})));
await call("list_mappings", () => lambda.send(new ListEventSourceMappingsCommand({
  FunctionName: "arn:aws:lambda:us-east-1:000000000000:function:f", MaxItems: 2,
})));
console.log(JSON.stringify(out));
