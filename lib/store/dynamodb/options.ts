import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { Serializer } from '../../core/serializer';
import type { ItemLayout } from './item-attributes';

export interface DynamoDbStoreOptions {
  /** Default 'dynamo-sessions' (the AWS Tomcat session manager's `Table`). */
  tableName?: string;
  /** Defaults to the SDK's resolution (AWS_REGION, profile); the AWS Tomcat session manager's `RegionId`. */
  region?: string;
  /** E.g. DynamoDB Local at http://127.0.0.1:8000 (the Tomcat managers' `Endpoint` / `dynamoEndpoint`). */
  endpoint?: string;
  /** Bring your own client; then region, endpoint and credentials options are not allowed. */
  client?: DynamoDBClient;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Goes with awsSecretKey (the Tomcat managers' `AwsAccessKey` / `awsAccessKey`). Prefer the SDK's credential chain. */
  awsAccessKey?: string;
  /** Goes with awsAccessKey (the Tomcat managers' `AwsSecretKey` / `awsSecretKey`). */
  awsSecretKey?: string;
  /** A Java properties file with `accessKey=` and `secretKey=`, as the AWS Tomcat session manager's `AwsCredentialsFile`. */
  awsCredentialsFile?: string;
  /** Create the table (and enable TTL) at startup when it is missing. Default true (the AWS Tomcat session manager's `CreateIfNotExist`). */
  createIfNotExist?: boolean;
  /** Provisioned read capacity for a created table. On-demand when both are absent. */
  readCapacityUnits?: number;
  /** Provisioned write capacity for a created table. On-demand when both are absent. */
  writeCapacityUnits?: number;
  /** EnergyHub sizing: expected peak requests per second; with sessionSize gives provisioned capacity. */
  requestsPerSecond?: number;
  /** EnergyHub sizing: expected average session size in kB. */
  sessionSize?: number;
  /** Eventually consistent reads: half the read cost, may be about a second stale. Default false. */
  eventualConsistency?: boolean;
  /** Prefix for stored keys, so several apps can share a table (memcached-session-manager storageKeyPrefix). */
  keyPrefix?: string;
  /** Milliseconds a read may take including SDK retries. Default 2000. */
  readTimeout?: number;
  /** Milliseconds a write may take including SDK retries. Default 3000. */
  writeTimeout?: number;
  /** SDK attempts per call (standard retry mode). Default 3. */
  maxAttempts?: number;
  /**
   * Milliseconds one attempt may wait for its answer before the SDK gives up on it and retries.
   * Default: the larger of readTimeout and writeTimeout. Lower it (e.g. 800) so a hung attempt leaves time for a retry.
   */
  requestTimeout?: number;
  /** Seconds to wait at startup for a created table to become ACTIVE. Default 120. */
  tableReadyTimeout?: number;
  /** 'ttl' (default): one table, DynamoDB TTL on expiresAt. 'rotation': EnergyHub's table per period. */
  expiry?: 'ttl' | 'rotation';
  /** Rotation: tables are named `<tableBaseName>_<periodStartEpochSeconds>`. Default 'dynamo-sessions' (EnergyHub's manager used `tomcat-sessions`). */
  tableBaseName?: string;
  /** Rotation: the period in seconds; must equal the sessions' maxInactiveInterval. */
  rotationPeriod?: number;
  /**
   * 'single': one item per session. 'split': a head item plus one item per attribute larger than partThreshold, so a
   * write costs what changed, not the whole session (docs/dynamodb.md, "Item layouts"). The layout is a property of
   * the table: by default the store uses the existing table's, and creates new tables as 'split'. Given, it must match the table.
   */
  layout?: ItemLayout;
  /** Split layout: attributes whose stored value is larger than this many bytes get an item of their own. Default 400. */
  partThreshold?: number;
  /** Rotation: the clock (epoch ms), injectable so tests cross period boundaries without waiting. */
  now?: () => number;
  /**
   * Encodes each attribute value (memcached-session-manager's `transcoderFactoryClass`). Default JSON. `encode` must be
   * deterministic (equal values, equal output): dirty detection compares encodings.
   */
  serializer?: Serializer;
}

export const STORE_DEFAULTS = {
  tableName: 'dynamo-sessions',
  readTimeout: 2000,
  writeTimeout: 3000,
  maxAttempts: 3,
  connectionTimeout: 1000,
  tableReadyTimeout: 120,
  partThreshold: 400,
} as const;
