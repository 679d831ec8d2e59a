import { NewSession, SessionStore, SessionUpdate, StoredSession, StoredValue } from './session-store';

const SWEEP_EVERY_WRITES = 1000;

/**
 * A process-local store for tests and development. It loses everything on
 * restart and is not shared between nodes, which is why the manager only
 * defaults to it when NODE_ENV is 'test' or 'development'.
 */
export class MemoryStore extends SessionStore {
  private readonly items = new Map<string, StoredSession>();
  private writesSinceSweep = 0;

  get size(): number {
    return this.items.size;
  }

  async get(key: string): Promise<StoredSession | undefined> {
    const item = this.items.get(key);
    return item && { ...item, data: { ...item.data } };
  }

  async create(key: string, session: NewSession): Promise<void> {
    if (this.items.has(key)) throw new Error(`MemoryStore: an item already exists under ${key}`);
    this.items.set(key, { ...session, data: copyData(session.data), version: 1 });
    this.afterWrite(session.lastAccessedAt);
  }

  async update(key: string, update: SessionUpdate): Promise<boolean> {
    const item = this.items.get(key);
    if (!item || item.expiresAt * 1000 <= update.now) return false;
    const data = copyData(item.data);
    for (const [name, value] of update.set) data[name] = copyValue(value);
    for (const name of update.remove) delete data[name];
    this.items.set(key, {
      ...item,
      data,
      version: item.version + 1,
      lastAccessedAt: update.lastAccessedAt,
      expiresAt: update.expiresAt,
    });
    this.afterWrite(update.now);
    return true;
  }

  async destroy(key: string): Promise<void> {
    this.items.delete(key);
  }

  private afterWrite(now: number): void {
    if (++this.writesSinceSweep < SWEEP_EVERY_WRITES) return;
    this.writesSinceSweep = 0;
    for (const [key, item] of this.items) if (item.expiresAt * 1000 <= now) this.items.delete(key);
  }
}

function copyValue(value: StoredValue): StoredValue {
  return typeof value === 'string' ? value : new Uint8Array(value);
}

function copyData(data: Readonly<Record<string, StoredValue>>): Record<string, StoredValue> {
  const copy: Record<string, StoredValue> = Object.create(null);
  for (const [name, value] of Object.entries(data)) copy[name] = copyValue(value);
  return copy;
}
