import { readFileSync } from 'node:fs';
import type { AwsCredentialIdentity } from '@smithy/types';
import { SessionConfigError } from '../../core/errors';
import { describe, positiveInteger } from '../../core/option-checks';
import type { ItemLayout } from './item-attributes';
import { DynamoDbStoreOptions, STORE_DEFAULTS } from './options';

export type Billing =
  | { readonly mode: 'PAY_PER_REQUEST' }
  | { readonly mode: 'PROVISIONED'; readonly readCapacityUnits: number; readonly writeCapacityUnits: number };

export interface ResolvedStoreOptions {
  readonly tableName: string;
  readonly region: string | undefined;
  readonly endpoint: string | undefined;
  readonly credentials: DynamoDbStoreOptions['credentials'];
  readonly createIfNotExist: boolean;
  readonly billing: Billing;
  readonly eventualConsistency: boolean;
  readonly keyPrefix: string;
  readonly readTimeout: number;
  readonly writeTimeout: number;
  readonly maxAttempts: number;
  readonly requestTimeout: number;
  readonly tableReadyTimeout: number;
  /** Set for expiry 'rotation'. */
  readonly rotation: { readonly tableBaseName: string; readonly period: number } | undefined;
  readonly now: () => number;
  /** As given; undefined: the existing table's, or LAYOUT_FOR_NEW_TABLES for a table the store creates. */
  readonly layout: ItemLayout | undefined;
  readonly partThreshold: number;
}

const KNOWN = new Set<string>([
  'tableName', 'region', 'endpoint', 'client', 'credentials', 'awsAccessKey', 'awsSecretKey', 'awsCredentialsFile',
  'createIfNotExist', 'readCapacityUnits', 'writeCapacityUnits', 'requestsPerSecond', 'sessionSize',
  'eventualConsistency', 'keyPrefix', 'readTimeout', 'writeTimeout', 'maxAttempts', 'requestTimeout', 'tableReadyTimeout',
  'expiry', 'tableBaseName', 'rotationPeriod', 'now', 'serializer', 'layout', 'partThreshold',
]);
/** A part item must stay well under DynamoDB's 400 KB item limit with its key and metadata. */
const MAX_PART_THRESHOLD = 64 * 1024;
// DynamoDB table names: 3-255 of letters, digits, '_', '-', '.'.
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

/** Checks every store option and reports all problems at once; never changes the caller's object. */
export function resolveStoreOptions(input: DynamoDbStoreOptions): ResolvedStoreOptions {
  const problems: string[] = [];
  for (const key of Object.keys(input)) if (!KNOWN.has(key)) problems.push(`unknown DynamoDbStore option "${key}"`);
  const tableName = input.tableName ?? STORE_DEFAULTS.tableName;
  if (typeof tableName !== 'string' || !TABLE_NAME.test(tableName)) {
    problems.push(`tableName must be 3-255 letters, digits, "_", "-" or ".", got ${describe(tableName)}`);
  }
  if (input.client !== undefined) {
    const clashing = (['region', 'endpoint', 'credentials', 'awsAccessKey', 'awsSecretKey', 'awsCredentialsFile'] as const)
      .filter((k) => input[k] !== undefined);
    if (clashing.length > 0) problems.push(`client is given, so ${clashing.join(', ')} would be ignored: configure them on the client`);
  }
  if (input.endpoint !== undefined && !isUrl(input.endpoint)) problems.push(`endpoint must be a URL such as http://127.0.0.1:8000, got ${describe(input.endpoint)}`);
  const credentials = resolveCredentials(input, problems);
  const billing = resolveBilling(input, problems);
  const keyPrefix = input.keyPrefix ?? '';
  if (typeof keyPrefix !== 'string' || keyPrefix.length > 512) problems.push(`keyPrefix must be a string of at most 512 characters`);
  const readTimeout = positiveInteger('readTimeout', input.readTimeout, STORE_DEFAULTS.readTimeout, problems);
  const writeTimeout = positiveInteger('writeTimeout', input.writeTimeout, STORE_DEFAULTS.writeTimeout, problems);
  const maxAttempts = positiveInteger('maxAttempts', input.maxAttempts, STORE_DEFAULTS.maxAttempts, problems);
  const requestTimeout = positiveInteger('requestTimeout', input.requestTimeout, Math.max(readTimeout, writeTimeout), problems);
  const tableReadyTimeout = positiveInteger('tableReadyTimeout', input.tableReadyTimeout, STORE_DEFAULTS.tableReadyTimeout, problems);
  for (const flag of ['createIfNotExist', 'eventualConsistency'] as const) {
    if (input[flag] !== undefined && typeof input[flag] !== 'boolean') problems.push(`${flag} must be a boolean`);
  }
  const rotation = resolveRotation(input, problems);
  const s = input.serializer;
  if (s !== undefined && (typeof s?.encode !== 'function' || typeof s?.decode !== 'function')) problems.push('serializer must have encode(value, path) and decode(encoded, path)');
  if (input.now !== undefined && typeof input.now !== 'function') problems.push('now must be a function returning epoch milliseconds');
  const { layout, partThreshold } = resolveLayout(input, rotation !== undefined, problems);
  if (problems.length > 0) throw new SessionConfigError(problems);
  return {
    rotation, now: input.now ?? Date.now,
    tableName, region: input.region, endpoint: input.endpoint, credentials,
    createIfNotExist: input.createIfNotExist ?? true, billing,
    eventualConsistency: input.eventualConsistency ?? false, keyPrefix, readTimeout, writeTimeout, maxAttempts, requestTimeout, tableReadyTimeout,
    layout, partThreshold,
  };
}

function resolveLayout(input: DynamoDbStoreOptions, rotating: boolean, problems: string[]): { layout: ItemLayout | undefined; partThreshold: number } {
  const layout = input.layout;
  if (layout !== undefined && layout !== 'single' && layout !== 'split') problems.push(`layout must be 'single' or 'split', got ${describe(layout)}`);
  if (layout === 'single' && input.partThreshold !== undefined) problems.push(`partThreshold is only used with layout: 'split'`);
  const partThreshold = positiveInteger('partThreshold', input.partThreshold, STORE_DEFAULTS.partThreshold, problems);
  if (partThreshold > MAX_PART_THRESHOLD) problems.push(`partThreshold must be at most ${MAX_PART_THRESHOLD} bytes, got ${partThreshold}`);
  // Rotation copies every live session into each new period's table: a split session would be copied item by item,
  // without a transaction, once per period, which costs the whole session again and could leave it half-moved.
  if (rotating && layout === 'split') problems.push(`expiry: 'rotation' works with layout: 'single' only; use expiry: 'ttl' with the split layout`);
  return { layout: rotating ? 'single' : layout, partThreshold };
}

function resolveRotation(input: DynamoDbStoreOptions, problems: string[]): ResolvedStoreOptions['rotation'] {
  const expiry = input.expiry ?? 'ttl';
  if (expiry !== 'ttl' && expiry !== 'rotation') {
    problems.push(`expiry must be 'ttl' or 'rotation', got ${describe(expiry)}`);
    return undefined;
  }
  if (expiry === 'ttl') {
    for (const k of ['tableBaseName', 'rotationPeriod'] as const) if (input[k] !== undefined) problems.push(`${k} is only used with expiry: 'rotation'`);
    return undefined;
  }
  if (input.tableName !== undefined) problems.push(`with expiry: 'rotation' tables are named from tableBaseName, not tableName`);
  if (input.createIfNotExist === false) problems.push(`expiry: 'rotation' creates a table every period, so createIfNotExist cannot be false`);
  const tableBaseName = input.tableBaseName ?? STORE_DEFAULTS.tableName;
  if (typeof tableBaseName !== 'string' || !TABLE_NAME.test(`${tableBaseName}_1700000000`)) problems.push(`tableBaseName must be a valid table name prefix`);
  if (input.rotationPeriod === undefined) {
    problems.push(`expiry: 'rotation' needs rotationPeriod (seconds), equal to the sessions' maxInactiveInterval`);
    return undefined;
  }
  const period = positiveInteger('rotationPeriod', input.rotationPeriod, 3600, problems);
  if (period < 60) problems.push(`rotationPeriod must be at least 60 seconds (creating a table can take a minute)`);
  return { tableBaseName, period };
}

/** Precedence as in the AWS Tomcat session manager: explicit keys, then the credentials file, then the SDK's default chain. */
function resolveCredentials(input: DynamoDbStoreOptions, problems: string[]): DynamoDbStoreOptions['credentials'] {
  const given = (['credentials', 'awsCredentialsFile'] as const).filter((k) => input[k] !== undefined);
  if (input.awsAccessKey !== undefined || input.awsSecretKey !== undefined) given.unshift('credentials');
  if (given.length > 1) problems.push(`give credentials one way: credentials, awsAccessKey/awsSecretKey or awsCredentialsFile`);
  if ((input.awsAccessKey === undefined) !== (input.awsSecretKey === undefined)) {
    problems.push(`awsAccessKey and awsSecretKey go together`);
  } else if (input.awsAccessKey !== undefined && input.awsSecretKey !== undefined) {
    return { accessKeyId: input.awsAccessKey, secretAccessKey: input.awsSecretKey };
  }
  if (input.awsCredentialsFile !== undefined) return readCredentialsFile(input.awsCredentialsFile, problems);
  return input.credentials;
}

/** The AWS Tomcat session manager's properties file: `accessKey=...` and `secretKey=...`, `#`/`!` comments. */
export function readCredentialsFile(path: string, problems: string[]): AwsCredentialIdentity | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    problems.push(`awsCredentialsFile ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return undefined;
  }
  const props = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('!')) continue;
    const match = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(trimmed);
    if (match) props.set(match[1]!, match[2]!.trim());
  }
  const accessKeyId = props.get('accessKey');
  const secretAccessKey = props.get('secretKey');
  if (!accessKeyId || !secretAccessKey) {
    problems.push(`awsCredentialsFile ${path} must define accessKey= and secretKey= (missing: ${[!accessKeyId && 'accessKey', !secretAccessKey && 'secretKey'].filter(Boolean).join(', ')})`);
    return undefined;
  }
  return { accessKeyId, secretAccessKey };
}

/**
 * On-demand unless capacity is given. EnergyHub's sizing: a request costs one read
 * and one write per unit of session size; a read unit covers 4 KB (strong) and a write unit 1 KB.
 */
function resolveBilling(input: DynamoDbStoreOptions, problems: string[]): Billing {
  const rcu = input.readCapacityUnits === undefined ? undefined : positiveInteger('readCapacityUnits', input.readCapacityUnits, 1, problems);
  const wcu = input.writeCapacityUnits === undefined ? undefined : positiveInteger('writeCapacityUnits', input.writeCapacityUnits, 1, problems);
  const rps = input.requestsPerSecond === undefined ? undefined : positiveInteger('requestsPerSecond', input.requestsPerSecond, 1, problems);
  const size = input.sessionSize;
  if (size !== undefined && !(typeof size === 'number' && size > 0 && Number.isFinite(size))) problems.push(`sessionSize must be a positive number of kB`);
  if ((rcu === undefined) !== (wcu === undefined)) problems.push(`readCapacityUnits and writeCapacityUnits go together`);
  if (rcu !== undefined && wcu !== undefined) {
    if (rps !== undefined) problems.push(`give either read/writeCapacityUnits or requestsPerSecond, not both`);
    return { mode: 'PROVISIONED', readCapacityUnits: rcu, writeCapacityUnits: wcu };
  }
  if (rps !== undefined) {
    const kb = typeof size === 'number' && size > 0 ? size : 1;
    const readsPerRequest = Math.ceil(kb / 4) / (input.eventualConsistency ? 2 : 1);
    return { mode: 'PROVISIONED', readCapacityUnits: Math.max(1, Math.ceil(rps * readsPerRequest)), writeCapacityUnits: rps * Math.ceil(kb) };
  }
  if (size !== undefined) problems.push(`sessionSize is only used with requestsPerSecond`);
  return { mode: 'PAY_PER_REQUEST' };
}

function isUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
