import { startDynamoDbLocal } from '../../tools/dynamodb-local';

/** One DynamoDB Local for the whole run; each spec file makes its own random table in it. */
export default async function globalSetup(): Promise<void> {
  process.env['NODE_ENV'] = 'test';
  if (process.env['DYNAMODB_ENDPOINT']) return; // an external DynamoDB (Local) was provided
  const local = await startDynamoDbLocal();
  process.env['DYNAMODB_ENDPOINT'] = local.endpoint;
  (globalThis as { __dynamoDbLocal?: typeof local }).__dynamoDbLocal = local;
}
