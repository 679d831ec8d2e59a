import { startDynamoDbLocal } from '../../tools/dynamodb-local';

/** One DynamoDB Local for the whole run; each spec file makes its own random table in it. */
export default async function globalSetup(): Promise<void> {
  // `npm run test:node22` must not quietly run on another Node if npx found a different binary.
  const expected = process.env['EXPECT_NODE_MAJOR'];
  if (expected !== undefined && process.versions.node.split('.')[0] !== expected) {
    throw new Error(`EXPECT_NODE_MAJOR=${expected}, but the suite runs on Node ${process.versions.node}`);
  }
  process.env['NODE_ENV'] = 'test';
  if (process.env['DYNAMODB_ENDPOINT']) return; // an external DynamoDB (Local) was provided
  const local = await startDynamoDbLocal();
  process.env['DYNAMODB_ENDPOINT'] = local.endpoint;
  (globalThis as { __dynamoDbLocal?: typeof local }).__dynamoDbLocal = local;
}
