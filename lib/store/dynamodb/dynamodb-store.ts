import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { defaultLogger, Logger } from '../../core/logger';
import type { Serializer } from '../../core/serializer';
import {
  DestroyOutcome, LockOutcome, NewSession, PrincipalSession, PrincipalSessionQuery, SessionStore, SessionUpdate, StoredSession, UpdateOutcome,
} from '../../core/session-store';
import { trackAttempts } from './attempt-tracking';
import { conditionalWrite, releaseLease, WriteResult } from './conditional-write';
import { ATTR, HEAD_PART, ItemLayout, PRINCIPAL_INDEX } from './item-attributes';
import { reflectsChanges, setMetadataChanges, setNewSessionFields, toStoredSession } from './item-codec';
import { DynamoDbStoreOptions, STORE_DEFAULTS } from './options';
import { destroyByPrincipal, destroyOwnedSession, findByPrincipal } from './principal-sessions';
import { ResolvedStoreOptions, resolveStoreOptions } from './resolve-options';
import { destroySession } from './session-deletes';
import { movesOf, recordMove } from './session-moves';
import { isConditionFailure, TableLocation, toStoreError } from './store-errors';
import { Item, SendOptions, SessionTables, StoreIo, TableRef, unlessMissing } from './store-io';
import { SharedDeadlines } from './deadlines';
import { assertSplitFits } from './split-items';
import { SplitLayout } from './split-layout';
import { ensureTable, LAYOUT_FOR_NEW_TABLES } from './table-bootstrap';
import { TableRotation } from './table-rotation';
import { UpdateExpressionBuilder } from './update-expression';

/** A session key's length: base64url of a SHA-256, what every split part's key carries. */
const STORAGE_KEY_LENGTH = 43;

/**
 * Sessions in DynamoDB. Layout 'single': one item per session, read with one
 * GetItem, every write one UpdateItem carrying only what changed. Layout
 * 'split' (split-layout.ts): a head item plus one item per large attribute,
 * read with one Query, a write touching only the items that changed. The
 * table check (and creation, with createIfNotExist) starts at construction;
 * `ready()` reports it, and the table's key schema says the layout.
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
  /** What the parts in principal-sessions.ts, session-deletes.ts and split-layout.ts call through. */
  private readonly io: StoreIo;
  /** The table's layout: as configured until the startup check has read it from the table. */
  private tableLayout: ItemLayout;
  /** Set once the table turned out to have the split layout. */
  private split: SplitLayout | undefined;

  constructor(options: DynamoDbStoreOptions = {}, private readonly logger: Logger = defaultLogger) {
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
    this.tableLayout = this.options.layout ?? LAYOUT_FOR_NEW_TABLES;
    const startup = this.learnRegion().then(async (): Promise<void> => {
      if (this.rotation) return this.rotation.rotate();
      const table = await ensureTable(this.client, {
        tableName: this.tableName, region: this.regionName, endpoint: this.options.endpoint, billing: this.options.billing,
        createIfNotExist: this.options.createIfNotExist, readyTimeoutSeconds: this.options.tableReadyTimeout, layout: this.options.layout,
      }, logger);
      this.tableLayout = table.layout;
      if (table.principalIndex !== PRINCIPAL_INDEX) this.io.principalIndexes.set(this.tableName, table.principalIndex);
      if (table.layout === 'split') {
        this.split = new SplitLayout(this.io, {
          table: this.tableName, partThreshold: this.options.partThreshold, eventualConsistency: this.options.eventualConsistency, logger, now: this.options.now,
        });
      }
    });
    this.bootstrap = startup.then(() => undefined, (e: unknown) => {
      throw toStoreError(e, 'the startup table check', this.tableName, this.location);
    });
    // Requests report the failure themselves; an app that never awaits ready() must not crash on it.
    this.bootstrap.catch((e: unknown) => logger.error(`table check failed: ${(e as Error).message}`));
    if (this.rotation) this.scheduleRotation(logger);
    this.io = {
      documents: this.documents, readTimeout: this.options.readTimeout, writeTimeout: this.options.writeTimeout, keyPrefix: this.options.keyPrefix,
      call: (table, operation, timeoutMs, send) => this.call(table, operation, timeoutMs, send),
      read: (table, itemKey, consistent) => this.read(table, itemKey, consistent),
      keyOf: (key) => this.keyOf(key),
      partKeyOf: (key, part) => ({ [ATTR.key]: this.options.keyPrefix + key, [ATTR.part]: part }),
      principalIndexes: new Map(),
    };
  }

  override ready(): Promise<void> {
    return this.bootstrap;
  }

  override get serializer(): Serializer | undefined {
    return this.serializerOption;
  }

  /** The table's layout, as read from its key schema at startup (before that: as configured, or the default for new tables). */
  get layout(): ItemLayout {
    return this.tableLayout;
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

  async get(key: string, readOnly = false): Promise<StoredSession | undefined> {
    await this.bootstrap;
    if (this.split) return this.split.get(key, readOnly);
    for (const table of this.readTables()) {
      const item = await unlessMissing(table, undefined, () => this.read(table.name, this.keyOf(key), !this.options.eventualConsistency));
      if (item) return toStoredSession(item);
    }
    return undefined;
  }

  async create(key: string, session: NewSession): Promise<void> {
    await this.bootstrap;
    if (this.split) {
      if (!(await this.split.create(key, session))) throw this.keyTaken();
      return;
    }
    const u = new UpdateExpressionBuilder();
    setNewSessionFields(u.set(u.name(ATTR.data), session.data), session);
    const result = await this.createItem(this.currentTable(), key, u);
    if (!result.applied) throw this.keyTaken();
  }

  private keyTaken(): Error {
    return toStoreError(new Error('an item already exists under the new session key'), 'UpdateItem', this.tableName, this.location);
  }

  async update(key: string, update: SessionUpdate): Promise<UpdateOutcome> {
    await this.bootstrap;
    if (this.split) return this.split.update(key, update);
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
    setMetadataChanges(u, update);
    if (update.lockOwner !== undefined) {
      guards.push(`${u.name(ATTR.lockOwner)} = ${u.value(update.lockOwner)}`);
      u.remove(u.name(ATTR.lockOwner)).remove(u.name(ATTR.lockExpires)); // the commit releases the lease
    }
    // When an attempt may have landed but the item no longer carries our token (another request wrote after
    // it), the item itself says whether our change is in: then it was stored, and is not reported as failed.
    const reflects = (item: Item): boolean => {
      const current = toStoredSession(item);
      // A write that gives the lease back and did not land leaves it ours.
      // The deadline too: a touch is its change (a later write only moves it on; else 503, never 2xx for a lost touch).
      return current.expiresAt > nowSeconds && current.expiresAt >= update.expiresAt && (update.lockOwner === undefined || current.lockOwner !== update.lockOwner) && reflectsChanges(current, update);
    };
    const result = await this.write(table, key, u, guards.join(' AND '), undefined, reflects);
    if (result.applied) return { status: 'stored' };
    if (!result.current) return { status: 'gone' };
    const current = toStoredSession(result.current);
    return current.expiresAt <= nowSeconds ? { status: 'gone' } : { status: 'conflict', current };
  }

  /** See session-deletes.ts: under rotation the previous table's copy goes first, and a version guard applies to both. */
  async destroy(key: string, expectedVersion?: number): Promise<DestroyOutcome> {
    await this.bootstrap;
    if (this.split) return this.split.destroy(key, expectedVersion);
    if (this.rotation && expectedVersion === undefined) {
      // A logout also ends a copy in the next table, where a node ahead may have moved it; older tables go first.
      const [current, previous] = this.readTables() as [TableRef, TableRef];
      return destroySession(this.io, [{ name: this.rotation.next(), mayBeMissing: true }, previous, current], key);
    }
    return destroySession(this.io, this.readTables(), key, expectedVersion);
  }

  /** See session-moves.ts: one small UpdateItem in the current table, never read as a session. */
  async recordMove(from: string, to: string, expiresAt: number): Promise<void> {
    await this.bootstrap;
    await recordMove(this.io, this.currentTable(), from, to, expiresAt);
  }

  /** One strong GetItem; under rotation of the current, previous and next table (a node ahead may have recorded it there). */
  async movesOf(key: string): Promise<readonly string[]> {
    await this.bootstrap;
    const tables = this.readTables();
    return movesOf(this.io, this.rotation ? [...tables, { name: this.rotation.next(), mayBeMissing: true }] : tables, key);
  }

  override keyBytes(key: string): number {
    const sortKey = this.tableLayout === 'split' ? ATTR.part.length + HEAD_PART.length : 0;
    return ATTR.key.length + Buffer.byteLength(this.options.keyPrefix + key, 'utf8') + sortKey;
  }

  /**
   * The split layout sizes each item on its own (400 KB each, one Query page in all); see split-items.ts.
   * Until the startup check has read the table's layout, the stricter one-item rule applies.
   */
  override fit(sizes: ReadonlyMap<string, number>, metadataBytes: number, before?: ReadonlyMap<string, number>): number {
    if (this.split === undefined) return super.fit(sizes, metadataBytes);
    const partKeyBytes = ATTR.key.length + Buffer.byteLength(this.options.keyPrefix, 'utf8') + STORAGE_KEY_LENGTH + ATTR.part.length;
    return assertSplitFits(sizes, metadataBytes, partKeyBytes, this.options.partThreshold, before);
  }

  async acquire(key: string, owner: string, leaseUntil: number, now: number): Promise<LockOutcome> {
    await this.bootstrap;
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
    if (result.applied) return { status: 'locked', session: this.split ? await this.split.withParts(key, result.item!) : toStoredSession(result.item!) };
    const current = result.current && toStoredSession(result.current);
    if (!current || current.expiresAt * 1000 <= now) return { status: 'absent' };
    return { status: 'busy', lockExpires: current.lockExpires ?? now };
  }

  async release(key: string, owner: string): Promise<void> {
    await this.bootstrap;
    await releaseLease(this.io, this.currentTable(), key, owner);
  }

  findByPrincipal(principal: string, now = Date.now(), query?: PrincipalSessionQuery): Promise<PrincipalSession[]> {
    return findByPrincipal(this.io, this.readTables(), principal, now, query);
  }

  /** Deletes conditioned on the principal, paged through the principal index; see principal-sessions.ts for the bounds. */
  destroyByPrincipal(principal: string): Promise<number> {
    return destroyByPrincipal(this.io, this.readTables(), principal, this.logger);
  }

  /** One DeleteItem conditioned on the principal (split layout: then a BatchWriteItem for the parts the head named). */
  override async destroyIfOwned(key: string, principal: string, now: number = Date.now()): Promise<boolean> {
    await this.bootstrap;
    return destroyOwnedSession(this.io, this.readTables(), key, principal, now, this.logger);
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
    const readPrevious = (): Promise<Item | undefined> => unlessMissing(previous, undefined, () => this.read(previous.name, this.keyOf(key), true));
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

  private async read(table: string, itemKey: Item, consistent: boolean): Promise<Item | undefined> {
    const { Item } = await this.call(table, 'GetItem', this.options.readTimeout, (o) =>
      this.documents.send(new GetCommand({ TableName: table, Key: itemKey, ConsistentRead: consistent }), o));
    return Item;
  }

  /** Creates the item unless one is there (see noRetryAfterLostAnswer: a create that lost its answer is not retried). */
  private createItem(table: string, key: string, u: UpdateExpressionBuilder): Promise<WriteResult> {
    return conditionalWrite(this.io, { table, key: this.keyOf(key), update: u, condition: `attribute_not_exists(${u.name(ATTR.key)})`, creates: true });
  }

  /** One conditional UpdateItem on the session's item (see conditional-write.ts). */
  private write(
    table: string, key: string, u: UpdateExpressionBuilder, condition: string, returnValues?: 'ALL_NEW', reflects?: (item: Item) => boolean,
  ): Promise<WriteResult> {
    return conditionalWrite(this.io, { table, key: this.keyOf(key), update: u, condition, ...(returnValues && { returnValues }), ...(reflects && { reflects }) });
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
    const stored = this.options.keyPrefix + key;
    return this.tableLayout === 'split' ? { [ATTR.key]: stored, [ATTR.part]: HEAD_PART } : { [ATTR.key]: stored };
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
