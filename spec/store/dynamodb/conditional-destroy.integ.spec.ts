import { expect } from '@jest/globals';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbStore } from '../../../lib';
import { dropTable, getItem, localClient, randomTableName, storeOnNewTable } from '../../support/dynamodb';
import { quietLogger } from '../../support/quiet-logger';

/** destroy(key, expectedVersion): what regenerate() uses to retire the old item only if nobody wrote since the load. */
describe('DynamoDbStore.destroy conditioned on the version seen at load', () => {
  let store: DynamoDbStore;
  let tableName: string;
  const now = Date.UTC(2030, 0, 1);
  const times = { createdAt: now, lastAccessedAt: now, expiresAt: Math.floor(now / 1000) + 1800 };
  const write = (data: Record<string, string>) => ({ set: new Map(Object.entries(data)), remove: [], lastAccessedAt: now, expiresAt: times.expiresAt, now });

  beforeAll(async () => {
    ({ store, tableName } = await storeOnNewTable());
  });
  afterAll(() => dropTable(tableName));

  it('deletes the item while it still has that version', async () => {
    await store.create('a', { ...times, data: { x: '"1"' } });
    await store.update('a', write({ x: '"2"' }));
    await expect(store.destroy('a', 2)).resolves.toEqual({ status: 'destroyed' });
    expect(await getItem(tableName, 'a')).toBeUndefined();
  });

  it('a stale version deletes nothing and returns the item as it is now', async () => {
    await store.create('b', { ...times, data: { x: '"1"' } });
    await store.update('b', write({ cart: '["book"]' })); // another request wrote after the load (version 1)
    const outcome = await store.destroy('b', 1);
    expect(outcome).toEqual({ status: 'changed', current: expect.objectContaining({ version: 2, data: { x: '"1"', cart: '["book"]' } }) });
    expect((await store.get('b'))?.data).toEqual({ x: '"1"', cart: '["book"]' });
  });

  it('a missing item is gone, with or without a version', async () => {
    await expect(store.destroy('never-stored', 1)).resolves.toEqual({ status: 'gone' });
    await expect(store.destroy('never-stored')).resolves.toEqual({ status: 'gone' });
    await store.create('c', { ...times, data: {} });
    await store.destroy('c');
    await expect(store.destroy('c', 1)).resolves.toEqual({ status: 'gone' });
  });
});

describe("DynamoDbStore.destroy conditioned on a version, under expiry: 'rotation' (the item may live in the previous table)", () => {
  const PERIOD = 3600;
  const base = randomTableName('rot-del');
  const clock = { now: Date.UTC(2032, 0, 1, 0, 10) };
  let store: DynamoDbStore;
  // Two periods, so a session outlives the period change each test makes (a store-level shortcut: the manager would touch it).
  const times = () => ({ createdAt: clock.now, lastAccessedAt: clock.now, expiresAt: Math.floor(clock.now / 1000) + 2 * PERIOD });
  const write = (data: Record<string, string>, expected?: Record<string, string | null>) => ({
    set: new Map(Object.entries(data)), remove: [], lastAccessedAt: clock.now, expiresAt: Math.floor(clock.now / 1000) + 2 * PERIOD, now: clock.now,
    ...(expected && { expected: new Map(Object.entries(expected)) }),
  });
  /** The next period: what was current is now the previous table. */
  const nextPeriod = async () => {
    clock.now += PERIOD * 1000;
    await store.rotate();
  };

  beforeAll(async () => {
    store = new DynamoDbStore({ expiry: 'rotation', tableBaseName: base, rotationPeriod: PERIOD, client: localClient(), now: () => clock.now }, quietLogger);
    await store.ready();
  });
  afterAll(async () => {
    store.close();
    const { TableNames = [] } = await localClient().send(new ListTablesCommand({}));
    for (const t of TableNames.filter((n) => n.startsWith(`${base}_`))) await dropTable(t);
  });

  it('an item only in the previous table: a stale version deletes nothing, the loaded version deletes it', async () => {
    await store.create('p', { ...times(), data: { x: '"1"' } });
    await store.update('p', write({ x: '"2"' })); // version 2
    await nextPeriod();
    await expect(store.destroy('p', 1)).resolves.toMatchObject({ status: 'changed', current: { version: 2 } });
    expect((await store.get('p'))?.data).toEqual({ x: '"2"' });
    await expect(store.destroy('p', 2)).resolves.toEqual({ status: 'destroyed' });
    await expect(store.get('p')).resolves.toBeUndefined();
  });

  it('an item moved forward but not written (a copy in both tables, same version): destroying it leaves no copy to resurrect', async () => {
    await store.create('m', { ...times(), data: { x: '"1"' } });
    await nextPeriod();
    // This write moves the item into the current table, then its guard fails: both tables hold version 1.
    await expect(store.update('m', write({ x: '"2"' }, { x: '"not what is stored"' }))).resolves.toMatchObject({ status: 'conflict' });
    expect((await store.get('m'))?.version).toBe(1);
    await expect(store.destroy('m', 1)).resolves.toEqual({ status: 'destroyed' });
    await expect(store.get('m')).resolves.toBeUndefined();
  });

  it('an item moved forward and written since the load: changed, and both copies stay', async () => {
    await store.create('w', { ...times(), data: { x: '"1"' } });
    await nextPeriod();
    const loaded = await store.get('w'); // read from the previous table
    await store.update('w', write({ cart: '["book"]' })); // moved forward and written: version 2 in the current table
    await expect(store.destroy('w', loaded!.version)).resolves.toMatchObject({ status: 'changed', current: { version: 2, data: { x: '"1"', cart: '["book"]' } } });
    expect((await store.get('w'))?.data).toEqual({ x: '"1"', cart: '["book"]' });
  });

  it('loaded before a period boundary, written after the load and before it: changed', async () => {
    await store.create('b', { ...times(), data: { x: '"1"' } });
    const loaded = await store.get('b');
    await store.update('b', write({ x: '"2"' }));
    await nextPeriod();
    await expect(store.destroy('b', loaded!.version)).resolves.toMatchObject({ status: 'changed', current: { version: 2 } });
    expect((await store.get('b'))?.data).toEqual({ x: '"2"' });
  });

  it('destroy without a version removes both copies of a moved session', async () => {
    await store.create('u', { ...times(), data: { x: '"1"' } });
    await nextPeriod();
    await store.update('u', write({ x: '"2"' }));
    await expect(store.destroy('u')).resolves.toEqual({ status: 'destroyed' });
    await expect(store.get('u')).resolves.toBeUndefined();
  });
});
