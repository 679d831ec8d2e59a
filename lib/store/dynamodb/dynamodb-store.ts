import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { defaultLogger, Logger } from '../../core/logger';
import { NewSession, SessionStore, SessionUpdate, StoredSession, StoredValue } from '../session-store';
import { ATTR } from './item-attributes';
import { DynamoDbStoreOptions, STORE_DEFAULTS } from './options';
import { ResolvedStoreOptions, resolveStoreOptions } from './resolve-options';
import { isConditionFailure, toStoreError } from './store-errors';
import { ensureTable } from './table-bootstrap';
import { UpdateExpressionBuilder } from './update-expression';

type SendOptions = { abortSignal: AbortSignal };

/**
 * Sessions in DynamoDB, one item per session. Reads are one GetItem, every
 * write is one UpdateItem carrying only what changed. The table check (and
 * creation, with createIfNotExist) starts at construction; `ready()` reports it.
 */
export class DynamoDbStore extends SessionStore {
  readonly tableName: string;
  /** The low-level client, e.g. to add middleware. */
  readonly client: DynamoDBClient;
  private readonly documents: DynamoDBDocumentClient;
  private readonly options: ResolvedStoreOptions;
  private readonly bootstrap: Promise<void>;

  constructor(options: DynamoDbStoreOptions = {}, logger: Logger = defaultLogger) {
    super();
    this.options = resolveStoreOptions(options);
    this.tableName = this.options.tableName;
    this.client = options.client ?? this.createClient();
    this.documents = DynamoDBDocumentClient.from(this.client, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    });
    const spec = {
      tableName: this.tableName, region: this.regionName, billing: this.options.billing,
      createIfNotExist: this.options.createIfNotExist, readyTimeoutSeconds: this.options.tableReadyTimeout,
    };
    this.bootstrap = ensureTable(this.client, spec, logger).catch((e: unknown) => {
      throw toStoreError(e, 'the startup table check', this.tableName, this.regionName);
    });
    // Requests report the failure themselves; an app that never awaits ready() must not crash on it.
    this.bootstrap.catch((e: unknown) => logger.error(`table check failed: ${(e as Error).message}`));
  }

  override ready(): Promise<void> {
    return this.bootstrap;
  }

  async get(key: string): Promise<StoredSession | undefined> {
    const { Item } = await this.call('GetItem', this.options.readTimeout, (o) =>
      this.documents.send(new GetCommand({
        TableName: this.tableName,
        Key: { [ATTR.key]: this.options.keyPrefix + key },
        ConsistentRead: !this.options.eventualConsistency,
      }), o));
    if (!Item) return undefined;
    return {
      data: (Item[ATTR.data] ?? {}) as Record<string, StoredValue>,
      version: Number(Item[ATTR.version] ?? 0),
      createdAt: Number(Item[ATTR.createdAt]),
      lastAccessedAt: Number(Item[ATTR.lastAccessedAt]),
      expiresAt: Number(Item[ATTR.expiresAt]),
      absoluteExpiresAt: Item[ATTR.absoluteExpiresAt] === undefined ? undefined : Number(Item[ATTR.absoluteExpiresAt]),
    };
  }

  async create(key: string, session: NewSession): Promise<void> {
    const u = new UpdateExpressionBuilder();
    u.set(u.name(ATTR.data), session.data)
      .set(u.name(ATTR.createdAt), session.createdAt)
      .set(u.name(ATTR.lastAccessedAt), session.lastAccessedAt)
      .set(u.name(ATTR.expiresAt), session.expiresAt)
      .set(u.name(ATTR.version), 1)
      .set(u.name(ATTR.writeToken), writeToken());
    if (session.absoluteExpiresAt !== undefined) u.set(u.name(ATTR.absoluteExpiresAt), session.absoluteExpiresAt);
    try {
      await this.write(key, u, `attribute_not_exists(${u.name(ATTR.key)})`);
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      throw toStoreError(new Error('an item already exists under the new session key'), 'UpdateItem', this.tableName, this.regionName);
    }
  }

  async update(key: string, update: SessionUpdate): Promise<boolean> {
    const u = new UpdateExpressionBuilder();
    for (const [name, value] of update.set) u.set(`${u.name(ATTR.data)}.${u.name(name)}`, value);
    for (const name of update.remove) u.remove(`${u.name(ATTR.data)}.${u.name(name)}`);
    u.set(u.name(ATTR.lastAccessedAt), update.lastAccessedAt)
      .set(u.name(ATTR.expiresAt), update.expiresAt)
      .set(u.name(ATTR.writeToken), writeToken())
      .add(u.name(ATTR.version), 1);
    // Never write to a destroyed or expired session: that would resurrect it.
    const condition = `attribute_exists(${u.name(ATTR.key)}) AND ${u.name(ATTR.expiresAt)} > ${u.value(Math.floor(update.now / 1000))}`;
    try {
      await this.write(key, u, condition);
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async destroy(key: string): Promise<void> {
    await this.call('DeleteItem', this.options.writeTimeout, (o) =>
      this.documents.send(new DeleteCommand({ TableName: this.tableName, Key: { [ATTR.key]: this.options.keyPrefix + key } }), o));
  }

  private async write(key: string, u: UpdateExpressionBuilder, condition: string): Promise<void> {
    await this.call('UpdateItem', this.options.writeTimeout, (o) =>
      this.documents.send(new UpdateCommand({
        TableName: this.tableName,
        Key: { [ATTR.key]: this.options.keyPrefix + key },
        UpdateExpression: u.expression(),
        ConditionExpression: condition,
        ExpressionAttributeNames: u.names,
        ExpressionAttributeValues: u.values,
      }), o));
  }

  /**
   * Runs one DynamoDB call under a deadline that covers the SDK's retries too,
   * after the startup table check, and types its failure.
   */
  private async call<T>(operation: string, timeoutMs: number, send: (options: SendOptions) => Promise<T>): Promise<T> {
    await this.bootstrap;
    try {
      return await send({ abortSignal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      if (isConditionFailure(e)) throw e; // an answer, not a failure: the caller decides
      throw toStoreError(e, operation, this.tableName, this.regionName);
    }
  }

  private get regionName(): string {
    return this.options.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'the default region';
  }

  private createClient(): DynamoDBClient {
    const o = this.options;
    return new DynamoDBClient({
      ...(o.region !== undefined && { region: o.region }),
      ...(o.endpoint !== undefined && { endpoint: o.endpoint }),
      ...(o.credentials !== undefined && { credentials: o.credentials }),
      maxAttempts: o.maxAttempts,
      retryMode: 'standard',
      requestHandler: new NodeHttpHandler({
        connectionTimeout: STORE_DEFAULTS.connectionTimeout,
        requestTimeout: Math.max(o.readTimeout, o.writeTimeout),
        throwOnRequestTimeout: true,
      }),
    });
  }
}

/** Random per write; lets a client tell, after an ambiguous failure, whether its write landed. */
function writeToken(): string {
  return randomBytes(12).toString('base64url');
}
