import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

/** Runs a few thousand item calls so DynamoDB Local's JVM is warm before anything is measured. */
export async function warmUpDynamoDb(endpoint: string, calls = 6000, concurrency = 20): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const documents = DynamoDBDocumentClient.from(client);
  const TableName = `bench-warm-up-${Date.now()}`;
  await client.send(new CreateTableCommand({
    TableName, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'sessionId', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'sessionId', KeyType: 'HASH' }],
  }));
  // Every request shape the targets send, in equal shares: the JVM compiles each code path separately,
  // and a shape left cold would make whichever target sends it first look slower.
  const shapes = [
    (Key: Record<string, string>, n: number) => documents.send(new PutCommand({ TableName, Item: { ...Key, data: JSON.stringify({ n }), expires: n } })),
    (Key: Record<string, string>, n: number) => documents.send(new UpdateCommand({
      TableName, Key,
      UpdateExpression: 'SET #d.#a = :a, #t = :t, #e = :e ADD #v :one',
      ConditionExpression: 'attribute_exists(#k) AND #e > :now',
      ExpressionAttributeNames: { '#d': 'data', '#a': 'a', '#t': 'writeToken', '#e': 'expiresAt', '#v': 'version', '#k': 'sessionId' },
      ExpressionAttributeValues: { ':a': String(n), ':t': `t${n}`, ':e': n + 10_000, ':one': 1, ':now': 0 },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    })).catch(() => undefined), // until the plain update below creates the item, the condition fails: that path is warmed too
    (Key: Record<string, string>, n: number) => documents.send(new UpdateCommand({
      TableName, Key, UpdateExpression: 'SET #d = :d, #e = :e', ExpressionAttributeNames: { '#d': 'data', '#e': 'expiresAt' },
      ExpressionAttributeValues: { ':d': { a: String(n) }, ':e': n + 10_000 },
    })),
    (Key: Record<string, string>) => documents.send(new GetCommand({ TableName, Key, ConsistentRead: true })),
  ];
  let issued = 0;
  await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
    while (issued < calls) {
      const n = issued++;
      const shape = n % shapes.length;
      // Puts replace the item with a string `data`, which the nested SET cannot address: separate items.
      await shapes[shape]!({ sessionId: `k${worker}-${shape === 0 ? 'put' : 'map'}` }, n);
    }
  }));
  client.destroy();
}
