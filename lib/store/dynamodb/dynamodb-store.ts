import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SessionStoreError } from '../../core/errors';
import { defaultLogger, Logger } from '../../core/logger';
import type { Serializer } from '../../core/serializer';
import { DestroyOutcome, LockOutcome, NewSession, PrincipalSession, sameStoredValue, SessionStore, SessionUpdate, StoredSession, UpdateOutcome } from '../../core/session-store';
import { trackAttempts } from './attempt-tracking';
import { ATTR } from './item-attributes';
import { toStoredSession } from './item-codec';
import { DynamoDbStoreOptions, STORE_DEFAULTS } from './options';
import { destroyByPrincipal, findByPrincipal } from './principal-sessions';
import { ResolvedStoreOptions, resolveStoreOptions } from './resolve-options';
import { destroySession } from './session-deletes';
import { isConditionFailure, itemOfConditionFailure, mayHaveApplied, TableLocation, toStoreError } from './store-errors';
import { Item, SendOptions, SessionTables, StoreIo, TableRef, unlessMissing } from './store-io';
import { SharedDeadlines } from './deadlines';
import { ensureTable } from './table-bootstrap';
import { TableRotation } from './table-rotation';
import { UpdateExpressionBuilder } from './update-expression';

/** Unique per write: a random per-process prefix and a counter (cheaper than random bytes every write). */
const WRITE_TOKEN_PREFIX = randomBytes(9).toString('base64url');
let writeCounter = 0;
function nextWriteToken(): string {
  return `${WRITE_TOKEN_PREFIX}.${(writeCounter++).toString(36)}`;
}
/** The outcome of one conditional UpdateItem: applied, or refused with the item as it was. */
type WriteResult = { applied: true; item?: Item } | { applied: false; current: Item | undefined };

/**
 * Sessions in DynamoDB, one item per session. Reads are one GetItem, every
 * write is one UpdateItem carrying only what changed. The table check (and
 * creation, with createIfNotExist) starts at construction; `ready()` reports it.
 */
export class DynamoDbStore extends SessionStore {
  /** The table (with expiry 'ttl'), or the base name of the rotated tables. */
  readonly tableName: string;
  /** The low-level client, e.g. to add middleware. */
  readonly client: DynamoDBClient;
  private readonly documents: DynamoDBDocumentClient;
  private readonly options: ResolvedStoreOptions;
  private readonly rotation: TableRotation | undefined;
  private readonly bootstrap: Promise<void>;
  private rotationTimer: NodeJS.Timeout | undefined;
  /** The region the SDK resolved, learnt at startup for error messages. */
  private resolvedRegion: string | undefined;
  private readonly serializerOption: Serializer | undefined;
  private readonly deadlines = new SharedDeadlines();
  /** What the parts in principal-sessions.ts and session-deletes.ts call through. */
  private readonly io: StoreIo;

  constructor(options: DynamoDbStoreOptions = {}, logger: Logger = defaultLogger) {
    super();
    this.options = resolveStoreOptions(options);
    this.serializerOption = options.serializer;
    const rotation = this.options.rotation;
    this.tableName = rotation?.tableBaseName ?? this.options.tableName;
    this.client = options.client ?? this.createClient();
    trackAttempts(this.client);
    this.documents = DynamoDBDocumentClient.from(this.client, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    });
    if (rotation) {
      this.rotation = new TableRotation(this.client, {
        tableBaseName: rotation.tableBaseName, period: rotation.period, billing: this.options.billing,
        readyTimeoutSeconds: this.options.tableReadyTimeout, now: this.options.now,
      }, logger);
    }
    const startup = this.learnRegion().then((): Promise<unknown> => this.rotation
      ? this.rotation.rotate()
      : ensureTable(this.client, {
          tableName: this.tableName, region: this.regionName, endpoint: this.options.endpoint, billing: this.options.billing,
          createIfNotExist: this.options.createIfNotExist, readyTimeoutSeconds: this.options.tableReadyTimeout,
        }, logger));
    this.bootstrap = startup.then(() => undefined, (e: unknown) => {
      throw toStoreError(e, 'the startup table check', this.tableName, this.location);
    });
    // Requests report the failure themselves; an app that never awaits ready() must not crash on it.
    this.bootstrap.catch((e: unknown) => logger.error(`table check failed: ${(e as Error).message}`));
    if (this.rotation) this.scheduleRotation(logger);
    this.io = {
      documents: this.documents, readTimeout: this.options.readTimeout, writeTimeout: this.options.writeTimeout, keyPrefix: this.options.keyPrefix,
      call: (table, operation, timeoutMs, send) => this.call(table, operation, timeoutMs, send),
      read: (table, key, consistent) => this.read(table, key, consistent),
      keyOf: (key) => this.keyOf(key),
    };
  }

  override ready(): Promise<void> {
    return this.bootstrap;
  }

  override get serializer(): Serializer | undefined {
    return this.serializerOption;
  }

  override get requiredMaxInactiveInterval(): number | undefined {
    return this.options.rotation?.period;
  }

  /** Rotation: create the next table / drop expired ones now (it also runs on a timer). */
  async rotate(): Promise<void> {
    await this.rotation?.rotate();
  }

  /** Stops the rotation timer (the timer never keeps a process alive, but tests like a clean stop). */
  close(): void {
    if (this.rotationTimer) clearInterval(this.rotationTimer);
  }

  async get(key: string): Promise<StoredSession | undefined> {
    for (const table of this.readTables()) {
      const item = await unlessMissing(table, undefined, () => this.read(table.name, key, !this.options.eventualConsistency));
      if (item) return toStoredSession(item);
    }
    return undefined;
  }

  async create(key: string, session: NewSession): Promise<void> {
    const u = new UpdateExpressionBuilder();
    u.set(u.name(ATTR.data), session.data)
      .set(u.name(ATTR.createdAt), session.createdAt)
      .set(u.name(ATTR.lastAccessedAt), session.lastAccessedAt)
      .set(u.name(ATTR.expiresAt), session.expiresAt)
      .set(u.name(ATTR.version), 1);
    if (session.absoluteExpiresAt !== undefined) u.set(u.name(ATTR.absoluteExpiresAt), session.absoluteExpiresAt);
    if (session.maxInactiveInterval !== undefined) u.set(u.name(ATTR.maxInactiveInterval), session.maxInactiveInterval);
    if (session.principal !== undefined) u.set(u.name(ATTR.principal), session.principal);
    const result = await this.write(this.currentTable(), key, u, `attribute_not_exists(${u.name(ATTR.key)})`);
    if (!result.applied) {
      throw toStoreError(new Error('an item already exists under the new session key'), 'UpdateItem', this.tableName, this.location);
    }
  }

  async update(key: string, update: SessionUpdate): Promise<UpdateOutcome> {
    const outcome = await this.updateIn(this.currentTable(), key, update);
    if (outcome.status !== 'gone' || !this.rotation) return outcome;
    // Rotation: a session still in the previous table moves forward with this write.
    return (await this.moveForward(key)) ? this.updateIn(this.currentTable(), key, update) : outcome;
  }

  private async updateIn(table: string, key: string, update: SessionUpdate): Promise<UpdateOutcome> {
    const u = new UpdateExpressionBuilder();
    const nowSeconds = Math.floor(update.now / 1000);
    // Never write to a destroyed or expired session: that would resurrect it.
    const guards = [`attribute_exists(${u.name(ATTR.key)})`, `${u.name(ATTR.expiresAt)} > ${u.value(nowSeconds)}`];
    for (const [name, value] of update.expected ?? []) {
      const path = `${u.name(ATTR.data)}.${u.name(name)}`;
      guards.push(value === null ? `attribute_not_exists(${path})` : `${path} = ${u.value(value)}`);
    }
    for (const [name, value] of update.set) u.set(`${u.name(ATTR.data)}.${u.name(name)}`, value);
    for (const name of update.remove) u.remove(`${u.name(ATTR.data)}.${u.name(name)}`);
    u.set(u.name(ATTR.lastAccessedAt), update.lastAccessedAt).set(u.name(ATTR.expiresAt), update.expiresAt).add(u.name(ATTR.version), 1);
    if (update.maxInactiveInterval !== undefined) u.set(u.name(ATTR.maxInactiveInterval), update.maxInactiveInterval);
    if (update.principal === null) u.remove(u.name(ATTR.principal));
    else if (update.principal !== undefined) u.set(u.name(ATTR.principal), update.principal);
    if (update.lockOwner !== undefined) {
      guards.push(`${u.name(ATTR.lockOwner)} = ${u.value(update.lockOwner)}`);
      u.remove(u.name(ATTR.lockOwner)).remove(u.name(ATTR.lockExpires)); // the commit releases the lease
    }
    // When an attempt may have landed but the item no longer carries our token (another request wrote after
    // it), the item itself says whether our change is in: then it was stored, and is not reported as failed.
    const reflects = (item: Item): boolean => {
      const current = toStoredSession(item);
      return current.expiresAt > nowSeconds &&
        [...update.set].every(([name, value]) => sameStoredValue(current.data[name], value)) &&
        update.remove.every((name) => current.data[name] === undefined) &&
        (update.principal === undefined || current.principal === (update.principal ?? undefined)) &&
        (update.maxInactiveInterval === undefined || current.maxInactiveInterval === update.maxInactiveInterval);
    };
    const result = await this.write(table, key, u, guards.join(' AND '), undefined, reflects);
    if (result.applied) return { status: 'stored' };
    if (!result.current) return { status: 'gone' };
    const current = toStoredSession(result.current);
    return current.expiresAt <= nowSeconds ? { status: 'gone' } : { status: 'conflict', current };
  }

  /** See session-deletes.ts: under rotation the previous table's copy goes first, and a version guard applies to both. */
  destroy(key: string, expectedVersion?: number): Promise<DestroyOutcome> {
    return destroySession(this.io, this.readTables(), key, expectedVersion);
  }

  override keyBytes(key: string): number {
    return ATTR.key.length + Buffer.byteLength(this.options.keyPrefix + key, 'utf8');
  }

  async acquire(key: string, owner: string, leaseUntil: number, now: number): Promise<LockOutcome> {
    const outcome = await this.acquireIn(this.currentTable(), key, owner, leaseUntil, now);
    if (outcome.status !== 'absent' || !this.rotation) return outcome;
    return (await this.moveForward(key)) ? this.acquireIn(this.currentTable(), key, owner, leaseUntil, now) : outcome;
  }

  private async acquireIn(table: string, key: string, owner: string, leaseUntil: number, now: number): Promise<LockOutcome> {
    const u = new UpdateExpressionBuilder();
    u.set(u.name(ATTR.lockOwner), owner).set(u.name(ATTR.lockExpires), leaseUntil).add(u.name(ATTR.version), 1);
    const free = `(attribute_not_exists(${u.name(ATTR.lockOwner)}) OR ${u.name(ATTR.lockExpires)} < ${u.value(now)})`;
    const condition = `attribute_exists(${u.name(ATTR.key)}) AND ${u.name(ATTR.expiresAt)} > ${u.value(Math.floor(now / 1000))} AND ${free}`;
    const result = await this.write(table, key, u, condition, 'ALL_NEW');
    if (result.applied) return { status: 'locked', session: toStoredSession(result.item!) };
    const current = result.current && toStoredSession(result.current);
    if (!current || current.expiresAt * 1000 <= now) return { status: 'absent' };
    return { status: 'busy', lockExpires: current.lockExpires ?? now };
  }

  async release(key: string, owner: string): Promise<void> {
    const u = new UpdateExpressionBuilder();
    u.remove(u.name(ATTR.lockOwner)).remove(u.name(ATTR.lockExpires)).add(u.name(ATTR.version), 1);
    await this.write(this.currentTable(), key, u, `${u.name(ATTR.lockOwner)} = ${u.value(owner)}`);
  }

  findByPrincipal(principal: string, now = Date.now()): Promise<PrincipalSession[]> {
    return findByPrincipal(this.io, this.readTables(), principal, now);
  }

  /** Batched deletes, paged through the principal index; see principal-sessions.ts for the bounds. */
  destroyByPrincipal(principal: string): Promise<number> {
    return destroyByPrincipal(this.io, this.readTables(), principal);
  }

  /**
   * Rotation: copies a session from the previous table into the current one
   * (only if it is not there yet, so concurrent movers agree). True when the
   * current table now has it.
   *
   * A destroy deletes the previous copy before the current one, so a copy
   * that lands after the destroy finished would bring the session back. The
   * previous table is therefore read again once the copy is in: if the
   * original is gone, a destroy ran meanwhile, and the copy is removed again.
   */
  private async moveForward(key: string): Promise<boolean> {
    const [current, previous] = this.readTables() as [TableRef, TableRef];
    const readPrevious = (): Promise<Item | undefined> => unlessMissing(previous, undefined, () => this.read(previous.name, key, true));
    const item = await readPrevious();
    if (!item || Number(item[ATTR.expiresAt]) * 1000 <= this.options.now()) return false;
    const u = new UpdateExpressionBuilder();
    for (const [name, value] of Object.entries(item)) {
      if (name !== ATTR.key && name !== ATTR.writeToken) u.set(u.name(name), value);
    }
    const copy = await this.write(current.name, key, u, `attribute_not_exists(${u.name(ATTR.key)})`);
    if (copy.applied && (await readPrevious()) === undefined) {
      await destroySession(this.io, [current], key);
      return false;
    }
    return true; // written now, or by a concurrent request a moment ago
  }

  private currentTable(): string {
    return this.rotation ? this.rotation.current() : this.tableName;
  }

  /** Where a session may be: the table, or the current then the previous rotated table (which may not exist). */
  private readTables(): SessionTables {
    if (!this.rotation) return [{ name: this.tableName, mayBeMissing: false }];
    return [{ name: this.rotation.current(), mayBeMissing: false }, { name: this.rotation.previous(), mayBeMissing: true }];
  }

  private scheduleRotation(logger: Logger): void {
    const period = this.options.rotation!.period * 1000;
    this.rotationTimer = setInterval(() => {
      this.rotation!.rotate().catch((e: unknown) => logger.warn(`session table rotation failed, retrying: ${(e as Error).message}`));
    }, Math.min(60_000, period / 10));
    this.rotationTimer.unref();
  }

  private async read(table: string, key: string, consistent: boolean): Promise<Item | undefined> {
    const { Item } = await this.call(table, 'GetItem', this.options.readTimeout, (o) =>
      this.documents.send(new GetCommand({ TableName: table, Key: this.keyOf(key), ConsistentRead: consistent }), o));
    return Item;
  }

  /**
   * One conditional UpdateItem stamped with a fresh writeToken. A refused
   * condition is an answer (with the item as it was, read in the same call). A
   * timeout or dropped connection may hide an applied write: the item is read
   * back, and our token there means it landed. That holds for any attempt, not
   * only the last: one applied and cut off, then throttled retries, still landed.
   */
  private async write(
    table: string, key: string, u: UpdateExpressionBuilder, condition: string, returnValues?: 'ALL_NEW', reflects?: (item: Item) => boolean,
  ): Promise<WriteResult> {
    const token = nextWriteToken();
    u.set(u.name(ATTR.writeToken), token);
    try {
      const output = await this.call(table, 'UpdateItem', this.options.writeTimeout, (o) =>
        this.documents.send(new UpdateCommand({
          TableName: table,
          Key: this.keyOf(key),
          UpdateExpression: u.expression(),
          ConditionExpression: condition,
          ExpressionAttributeNames: u.names,
          ExpressionAttributeValues: u.values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          ...(returnValues && { ReturnValues: returnValues }),
        }), o));
      return { applied: true, item: output.Attributes };
    } catch (e) {
      if (isConditionFailure(e)) {
        const current = itemOfConditionFailure(e);
        // An SDK retry of a write that had landed fails its own condition: our token says it is ours.
        if (current?.[ATTR.writeToken] === token) return { applied: true, item: current };
        if (current && reflects && mayHaveApplied(e) && reflects(current)) return { applied: true, item: current };
        return { applied: false, current };
      }
      if (e instanceof SessionStoreError && mayHaveApplied(e)) {
        const landed = await this.read(table, key, true).then(
          (item) => (item && (item[ATTR.writeToken] === token || reflects?.(item)) ? item : undefined),
          () => undefined,
        );
        if (landed) return { applied: true, item: landed };
      }
      throw e;
    }
  }

  /**
   * Runs one DynamoDB call under a deadline that covers the SDK's retries too,
   * after the startup table check, and types its failure.
   */
  private async call<T>(table: string, operation: string, timeoutMs: number, send: (options: SendOptions) => Promise<T>): Promise<T> {
    await this.bootstrap;
    const deadline = this.deadlines.start(timeoutMs);
    try {
      return await send({ abortSignal: deadline });
    } catch (e) {
      if (isConditionFailure(e)) throw e; // an answer, not a failure: the caller decides
      throw toStoreError(e, operation, table, this.location);
    } finally {
      deadline.finish();
    }
  }

  private keyOf(key: string): Item {
    return { [ATTR.key]: this.options.keyPrefix + key };
  }

  /**
   * The region the client really uses, as the SDK resolved it (option, AWS_REGION, profile or instance
   * metadata; a given client's own): error messages name it. Undefined when it cannot be told.
   */
  private get regionName(): string | undefined {
    return this.options.region ?? this.resolvedRegion;
  }

  private get location(): TableLocation {
    return { region: this.regionName, endpoint: this.options.endpoint };
  }

  private async learnRegion(): Promise<void> {
    try {
      this.resolvedRegion = await this.client.config.region();
    } catch {
      // No region anywhere: the first call fails with the SDK's own message, which says so.
    }
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
        requestTimeout: o.requestTimeout,
        throwOnRequestTimeout: true,
      }),
    });
  }
}
