import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbStore, SessionConfigError } from '../../../lib';
import { dropTable, localClient, randomTableName } from '../../support/dynamodb';
import { testManager } from '../../support/manager';

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
