import type { RunningDynamoDbLocal } from '../../tools/dynamodb-local';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __dynamoDbLocal?: RunningDynamoDbLocal }).__dynamoDbLocal?.stop();
}
