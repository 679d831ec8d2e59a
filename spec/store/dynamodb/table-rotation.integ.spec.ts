import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbStore, SessionConfigError, TableNotFoundError } from '../../../lib';
import { dropTable, localClient, randomTableName, storageKey } from '../../support/dynamodb';
import { testManager } from '../../support/manager';
import { quietLogger } from '../../support/quiet-logger';

const PERIOD = 3600;

async function tablesWithPrefix(prefix: string): Promise<string[]> {
  const { TableNames = [] } = await localClient().send(new ListTablesCommand({}));
  return TableNames.filter((t) => t.startsWith(`${prefix}_`)).sort();
}

describe("expiry: 'rotation' (EnergyHub's table rotation) on DynamoDB Local", () => {
  const base = randomTableName('rot');
  const clock = { now: Date.UTC(2030, 0, 1, 0, 10) }; // ten minutes into a period
  const periodStart = (ms: number) => Math.floor(ms / 1000) - (Math.floor(ms / 1000) % PERIOD);
  const stores: DynamoDbStore[] = [];
  const newStore = () => {
    const store = new DynamoDbStore({ expiry: 'rotation', tableBaseName: base, rotationPeriod: PERIOD, client: localClient(), now: () => clock.now });
    stores.push(store);
    return store;
  };
  afterAll(async () => {
    stores.forEach((s) => s.close());
    for (const t of await tablesWithPrefix(base)) await dropTable(t);
  });

  it('writes to the current period table, reads the previous one, moves sessions forward, and drops stale tables', async () => {
    const store = newStore();
    await store.ready();
    const p0 = periodStart(clock.now);
    expect(await tablesWithPrefix(base)).toEqual([`${base}_${p0}`]);

    const t = testManager({ maxInactiveInterval: PERIOD, touchAfter: 60 }, store);
    t.clock.now = clock.now;
    await t.run((s) => void (s['cart'] = ['tea'])); // written in period N
    const other = testManager({ maxInactiveInterval: PERIOD }, store);
    other.clock.now = clock.now;
    await other.run((s) => void (s['user'] = 'idle')); // never used again

    // Near the boundary the next table is created ahead of time.
    clock.now = (p0 + PERIOD - 60) * 1000;
    await store.rotate();
    expect(await tablesWithPrefix(base)).toEqual([`${base}_${p0}`, `${base}_${p0 + PERIOD}`]);

    // Period N+1: the session is read from the previous table and moved forward by its next write.
    clock.now = (p0 + PERIOD + 30) * 1000;
    t.clock.now = clock.now;
    await store.rotate();
    await t.run((s) => {
      expect(s['cart']).toEqual(['tea']);
      s['cart'] = ['tea', 'scones'];
    });

    // Period N+2 (less than one idle period after that write): table N is dropped with the idle session; the moved one lives on.
    clock.now = (p0 + 2 * PERIOD + 10) * 1000;
    t.clock.now = clock.now;
    other.clock.now = clock.now;
    await store.rotate();
    const tables = await tablesWithPrefix(base);
    expect(tables).not.toContain(`${base}_${p0}`);
    expect(tables).toContain(`${base}_${p0 + PERIOD}`);
    await t.run((s) => expect(s['cart']).toEqual(['tea', 'scones']));
    await other.run((s) => expect(s.isNew).toBe(true));
  });

  it('two store instances rotating at once raise no error', async () => {
    clock.now += 5 * PERIOD * 1000;
    const a = newStore();
    const b = newStore();
    await expect(Promise.all([a.ready(), b.ready(), a.rotate(), b.rotate()])).resolves.toBeDefined();
    clock.now += PERIOD * 1000 - 30_000;
    await expect(Promise.all([a.rotate(), b.rotate()])).resolves.toBeDefined();
    clock.now += 2 * PERIOD * 1000;
    await expect(Promise.all([a.rotate(), b.rotate()])).resolves.toBeDefined();
  });

  it('refuses a rotation period that differs from maxInactiveInterval, and rotation options without rotation', () => {
    const store = newStore();
    expect(() => testManager({ maxInactiveInterval: 1800 }, store)).toThrow(/must equal the store's rotationPeriod \(3600\)/);
    expect(() => new DynamoDbStore({ expiry: 'rotation', tableName: 'x-sessions', createIfNotExist: false })).toThrow(SessionConfigError);
    expect(() => new DynamoDbStore({ rotationPeriod: 3600 })).toThrow(/rotationPeriod is only used with expiry: 'rotation'/);
  });
});

describe("expiry: 'rotation': a missing table that is not the current one reads as empty", () => {
  const base = randomTableName('rot-first');
  const clock = { now: Date.UTC(2031, 5, 1, 0, 10) };
  const periodStart = (ms: number) => Math.floor(ms / 1000) - (Math.floor(ms / 1000) % PERIOD);
  let store: DynamoDbStore;
  const times = () => ({ createdAt: clock.now, lastAccessedAt: clock.now, expiresAt: Math.floor(clock.now / 1000) + PERIOD });
  const update = () => ({ set: new Map([['a', '"2"']]), remove: [], lastAccessedAt: clock.now, expiresAt: Math.floor(clock.now / 1000) + PERIOD, now: clock.now });

  beforeAll(async () => {
    store = new DynamoDbStore({ expiry: 'rotation', tableBaseName: base, rotationPeriod: PERIOD, client: localClient(), now: () => clock.now }, quietLogger);
    await store.ready();
  });
  afterAll(async () => {
    store.close();
    for (const t of await tablesWithPrefix(base)) await dropTable(t);
  });

  it('first period after rotation is switched on: every read and delete of the store API answers as for an empty table', async () => {
    expect(await tablesWithPrefix(base)).toEqual([`${base}_${periodStart(clock.now)}`]); // no previous period's table
    await expect(store.get('unstored')).resolves.toBeUndefined();
    await expect(store.destroy('unstored')).resolves.toEqual({ status: 'gone' });
    await expect(store.destroy('unstored', 4)).resolves.toEqual({ status: 'gone' });
    await expect(store.update('unstored', update())).resolves.toEqual({ status: 'gone' }); // moveForward looks in the previous table
    await expect(store.acquire('unstored', 'me', clock.now + 5000, clock.now)).resolves.toEqual({ status: 'absent' });
    await expect(store.findByPrincipal('ada')).resolves.toEqual([]);
    await expect(store.destroyByPrincipal('ada')).resolves.toBe(0);

    const k = storageKey('k');
    await store.create(k, { ...times(), data: { a: '"1"' }, principal: 'ada' });
    expect((await store.get(k))?.data).toEqual({ a: '"1"' });
    expect((await store.findByPrincipal('ada')).map((s) => s.key)).toEqual([k]);
    await expect(store.destroy(k, 2)).resolves.toMatchObject({ status: 'changed', current: { version: 1 } });
    await expect(store.destroy(k, 1)).resolves.toEqual({ status: 'destroyed' });
    await expect(store.get(k)).resolves.toBeUndefined();
    await store.create(storageKey('k2'), { ...times(), data: {}, principal: 'ada' });
    await expect(store.destroyByPrincipal('ada')).resolves.toBe(1);
    await store.create('k3', { ...times(), data: {} });
    await expect(store.destroy('k3')).resolves.toEqual({ status: 'destroyed' });
  });

  it('through the manager: logout and regenerate of a stored session succeed, a signed cookie of an unstored session gets a fresh one', async () => {
    const t = testManager({ maxInactiveInterval: PERIOD }, store);
    t.clock.now = clock.now;
    await t.run((s) => void (s['cart'] = ['tea']));
    const first = t.cookie();
    await t.run((s) => s.regenerate());
    expect(t.cookie()).not.toBe(first);
    await t.run((s) => expect(s['cart']).toEqual(['tea']));
    await t.run((s) => s.destroy());
    await t.run((s) => expect(s.isNew).toBe(true)); // the cookie the logout cleared, or a stale one: fresh either way
    t.setCookie(first); // validly signed, no longer stored
    await t.run((s) => {
      expect(s.isNew).toBe(true);
      expect(s['cart']).toBeUndefined();
    });
  });

  it('every node down for a period: the table before the current one was never created, and reads as empty', async () => {
    clock.now += 2 * PERIOD * 1000;
    await store.rotate();
    expect(await tablesWithPrefix(base)).toEqual([`${base}_${periodStart(clock.now)}`]);
    await expect(store.get('unstored')).resolves.toBeUndefined();
    await expect(store.destroy('unstored', 1)).resolves.toEqual({ status: 'gone' });
  });

  it('a missing current table is still a 503 (TableNotFoundError naming it), for reads and deletes alike', async () => {
    const current = `${base}_${periodStart(clock.now)}`;
    await dropTable(current);
    try {
      await expect(store.get('k')).rejects.toThrow(TableNotFoundError);
      await expect(store.get('k')).rejects.toMatchObject({ tableName: current, status: 503 });
      await expect(store.destroy('k')).rejects.toMatchObject({ tableName: current, status: 503 });
      await expect(store.destroy('k', 1)).rejects.toMatchObject({ tableName: current, status: 503 });
      await expect(store.findByPrincipal('ada')).rejects.toMatchObject({ tableName: current, status: 503 });
      await expect(store.destroyByPrincipal('ada')).rejects.toMatchObject({ tableName: current, status: 503 });
    } finally {
      await store.rotate(); // creates it again
    }
    await expect(store.get('k')).resolves.toBeUndefined();
  });
});
