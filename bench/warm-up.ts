import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

/** Runs a few thousand item calls so DynamoDB Local's JVM is warm before anything is measured. */
export async function warmUpDynamoDb(endpoint: string, calls = 6000, concurrency = 20): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const documents = DynamoDBDocumentClient.from(client);
  const TableName = `bench-warm-up-${Date.now()}`;
  await client.send(new CreateTableCommand({
    TableName, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'sessionId', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'sessionId', KeyType: 'HASH' }],
  }));
  let issued = 0;
  await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
    while (issued++ < calls) {
      const Key = { sessionId: `k${worker}` };
      await documents.send(new UpdateCommand({ TableName, Key, UpdateExpression: 'SET #d = :d ADD #v :one', ExpressionAttributeNames: { '#d': 'data', '#v': 'version' }, ExpressionAttributeValues: { ':d': { a: String(issued) }, ':one': 1 } }));
      await documents.send(new GetCommand({ TableName, Key, ConsistentRead: true }));
    }
  }));
  client.destroy();
}
