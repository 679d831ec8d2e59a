import { DynamoDbStore } from 'dynamo-session';
import { LOCAL_CREDENTIALS, LOCAL_REGION, RunningDynamoDbLocal, startDynamoDbLocal } from '../tools/dynamodb-local';
import { recordDynamoDbCalls } from './dynamodb-calls';

export interface SampleStore {
  readonly store: DynamoDbStore;
  readonly description: string;
  stop(): Promise<void>;
}

/**
 * Where the sample keeps its sessions: DYNAMODB_ENDPOINT if set, real DynamoDB
 * if an AWS region is configured, otherwise an embedded DynamoDB Local.
 */
export async function sampleStore(tableName = process.env['SESSION_TABLE'] ?? 'dynamo-sessions-sample'): Promise<SampleStore> {
  const endpoint = process.env['DYNAMODB_ENDPOINT'];
  const region = process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'];
  let local: RunningDynamoDbLocal | undefined;
  let store: DynamoDbStore;
  let description: string;
  if (endpoint) {
    store = new DynamoDbStore({ tableName, endpoint, region: region ?? LOCAL_REGION, ...(region ? {} : { credentials: LOCAL_CREDENTIALS }) });
    description = `DynamoDB at ${endpoint} (DYNAMODB_ENDPOINT), table ${tableName}`;
  } else if (region) {
    store = new DynamoDbStore({ tableName, region });
    description = `Amazon DynamoDB in ${region} (AWS_REGION), table ${tableName}`;
  } else {
    local = await startDynamoDbLocal();
    store = new DynamoDbStore({ tableName, endpoint: local.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    description = `embedded DynamoDB Local at ${local.endpoint} (in memory; set DYNAMODB_ENDPOINT or AWS_REGION to use another), table ${tableName}`;
  }
  // Demo aid (sample-app/dynamodb-calls.ts): the page's "DynamoDB calls" panel. The library needs none of it.
  recordDynamoDbCalls(store.client);
  try {
    await store.ready();
  } catch (e) {
    // Not left running behind a sample that failed to start.
    store.client.destroy();
    await local?.stop();
    throw e;
  }
  return {
    store,
    description,
    async stop() {
      store.client.destroy();
      await local?.stop();
    },
  };
}

const DEV_SECRET = 'sample-app-development-secret-change-me-0123456789';

export function sampleSecrets(): string[] {
  const configured = process.env['SESSION_SECRET'];
  if (configured) return [configured];
  console.warn('SESSION_SECRET is not set: using a development secret. Set a random one of 32+ bytes in production.');
  return [DEV_SECRET];
}
