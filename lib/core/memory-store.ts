import type { Serializer } from './serializer';
import {
  DestroyOutcome, LockOutcome, NewSession, PrincipalSession, PrincipalSessionQuery, sameStoredValue, SessionStore, SessionUpdate, StoredSession, StoredValue, UpdateOutcome,
} from './session-store';

export interface MemoryStoreOptions {
  /** Encodes attribute values (default JSON), as DynamoDbStore's option. */
  serializer?: Serializer;
}

const SWEEP_EVERY_WRITES = 1000;

/**
 * A process-local store for tests and development, with the same conditions as
 * DynamoDbStore. It loses everything on restart and is not shared between
 * nodes, which is why the manager only defaults to it when NODE_ENV is 'test' or 'development'.
 */
export class MemoryStore extends SessionStore {
  private readonly items = new Map<string, StoredSession>();
  /** recordMove(): old key -> where its session moved, kept until expiresAt (epoch seconds). */
  private readonly moves = new Map<string, { readonly to: Set<string>; expiresAt: number }>();
  private writesSinceSweep = 0;

  constructor(private readonly options: MemoryStoreOptions = {}) {
    super();
  }

  override get serializer(): Serializer | undefined {
    return this.options.serializer;
  }

  get size(): number {
    return this.items.size;
  }

  async get(key: string): Promise<StoredSession | undefined> {
    const item = this.items.get(key);
    return item && copy(item);
  }

  async create(key: string, session: NewSession): Promise<void> {
    if (this.items.has(key)) throw new Error(`MemoryStore: an item already exists under ${key}`);
    this.items.set(key, { ...session, data: copyData(session.data), version: 1 });
    this.afterWrite(session.lastAccessedAt);
  }

  async update(key: string, update: SessionUpdate): Promise<UpdateOutcome> {
    const item = this.items.get(key);
    if (!item || item.expiresAt * 1000 <= update.now) return { status: 'gone' };
    const guardsHold =
      [...(update.expected ?? [])].every(([name, value]) => sameStoredValue(item.data[name], value)) &&
      (update.lockOwner === undefined || item.lockOwner === update.lockOwner);
    if (!guardsHold) return { status: 'conflict', current: copy(item) };
    const data = copyData(item.data);
    for (const [name, value] of update.set) data[name] = copyValue(value);
    for (const name of update.remove) delete data[name];
    const next: StoredSession = {
      ...item, data, version: item.version + 1, lastAccessedAt: update.lastAccessedAt, expiresAt: update.expiresAt,
      ...(update.maxInactiveInterval !== undefined && { maxInactiveInterval: update.maxInactiveInterval }),
      ...(update.principal !== undefined && { principal: update.principal ?? undefined }),
      ...(update.authenticatedAt !== undefined && { authenticatedAt: update.authenticatedAt ?? undefined }),
    };
    this.items.set(key, update.lockOwner === undefined ? next : { ...next, lockOwner: undefined, lockExpires: undefined });
    this.afterWrite(update.now);
    return { status: 'stored' };
  }

  async destroy(key: string, expectedVersion?: number): Promise<DestroyOutcome> {
    const item = this.items.get(key);
    if (!item) return { status: 'gone' };
    if (expectedVersion !== undefined && item.version !== expectedVersion) return { status: 'changed', current: copy(item) };
    this.items.delete(key);
    return { status: 'destroyed' };
  }

  async recordMove(from: string, to: string, expiresAt: number): Promise<void> {
    const moves = this.moves.get(from);
    if (moves) {
      moves.to.add(to);
      moves.expiresAt = Math.max(moves.expiresAt, expiresAt);
    } else {
      this.moves.set(from, { to: new Set([to]), expiresAt });
    }
  }

  async movesOf(key: string): Promise<readonly string[]> {
    return [...(this.moves.get(key)?.to ?? [])];
  }

  async acquire(key: string, owner: string, leaseUntil: number, now: number): Promise<LockOutcome> {
    const item = this.items.get(key);
    if (!item || item.expiresAt * 1000 <= now) return { status: 'absent' };
    if (item.lockOwner !== undefined && (item.lockExpires ?? 0) >= now) return { status: 'busy', lockExpires: item.lockExpires ?? now };
    const locked = { ...item, lockOwner: owner, lockExpires: leaseUntil, version: item.version + 1 };
    this.items.set(key, locked);
    return { status: 'locked', session: copy(locked) };
  }

  async release(key: string, owner: string): Promise<void> {
    const item = this.items.get(key);
    if (item?.lockOwner === owner) this.items.set(key, { ...item, lockOwner: undefined, lockExpires: undefined });
  }

  /** With `query.limit`, the first that many of the user's sessions (expired ones count), as an index read would. */
  async findByPrincipal(principal: string, now = Date.now(), query: PrincipalSessionQuery = {}): Promise<PrincipalSession[]> {
    return [...this.items]
      .filter(([, item]) => item.principal === principal)
      .slice(0, query.limit ?? Infinity)
      .filter(([, item]) => item.expiresAt * 1000 > now)
      .map(([key, { createdAt, lastAccessedAt, expiresAt, userAgent, ip }]) => ({
        key, createdAt, lastAccessedAt, expiresAt, ...(userAgent !== undefined && { userAgent }), ...(ip !== undefined && { ip }),
      }));
  }

  async destroyByPrincipal(principal: string): Promise<number> {
    const keys = [...this.items].filter(([, item]) => item.principal === principal).map(([key]) => key);
    for (const key of keys) this.items.delete(key);
    return keys.length;
  }

  private afterWrite(now: number): void {
    if (++this.writesSinceSweep < SWEEP_EVERY_WRITES) return;
    this.writesSinceSweep = 0;
    for (const [key, item] of this.items) if (item.expiresAt * 1000 <= now) this.items.delete(key);
    for (const [key, moves] of this.moves) if (moves.expiresAt * 1000 <= now) this.moves.delete(key);
  }
}

function copy(item: StoredSession): StoredSession {
  return { ...item, data: copyData(item.data) };
}

function copyValue(value: StoredValue): StoredValue {
  return typeof value === 'string' ? value : new Uint8Array(value);
}

function copyData(data: Readonly<Record<string, StoredValue>>): Record<string, StoredValue> {
  const result = Object.create(null) as Record<string, StoredValue>;
  for (const [name, value] of Object.entries(data)) result[name] = copyValue(value);
  return result;
}
