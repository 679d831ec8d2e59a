import { expect } from '@jest/globals';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbStore, MemoryStore } from '../../../lib';
import type { SessionStore } from '../../../lib';
import { dropTable, getItem, LAYOUT, localClient, randomTableName, storeOnNewTable } from '../../support/dynamodb';
import { frozenIndex } from '../../support/frozen-index';
import { keyOf } from '../../support/cookies';
import { testManager } from '../../support/manager';

/**
 * The principal index is eventually consistent: it may still list a session under the user it had a moment
 * ago. Every delete made from an index answer is conditioned on the principal the index named, so a session
 * that switched user with setPrincipal() (same key, no login) while the index lagged is never ended by mistake.
 * DynamoDB Local updates its index at once: the lag is a frozen index answer (spec/support/frozen-index.ts).
 */
describe('deletes made from a lagging principal index', () => {
  const tables: string[] = [];
  afterAll(async () => {
    for (const table of tables) await dropTable(table);
  });

  /**
   * Three sessions of ada (the first with an attribute large enough for a part of its own in the split layout);
   * then the index is frozen, and the first switches to grace with setPrincipal: the index still lists it under ada.
   */
  async function switchedWhileIndexLags() {
    const { store, tableName } = await storeOnNewTable();
    tables.push(tableName);
    const index = frozenIndex(store.client);
    const [switched, asker, third] = [testManager({}, store), testManager({}, store), testManager({}, store)];
    await switched.run((s) => {
      s.setPrincipal('ada');
      s['profile'] = 'p'.repeat(200);
    });
    for (const t of [asker, third]) await t.run((s) => s.setPrincipal('ada'));
    await index.freeze(() => store.findByPrincipal('ada'));
    await switched.run((s) => s.setPrincipal('grace')); // the same key, no login
    expect((await store.findByPrincipal('ada')).map((s) => s.key)).toContain(keyOf(switched.cookie()!)); // the lag
    return { store, tableName, switched, others: [asker, third] as const };
  }

  it("destroyByPrincipal never ends a session that switched to another user while the index still lists it under the first", async () => {
    const { store, tableName, switched, others } = await switchedWhileIndexLags();
    const ended = await store.destroyByPrincipal('ada');
    expect(await getItem(tableName, keyOf(switched.cookie()!))).toMatchObject({ principal: 'grace', data: { profile: JSON.stringify('p'.repeat(200)) } });
    expect(ended).toBe(2); // only the sessions really ended are counted
    for (const t of others) expect(await store.get(keyOf(t.cookie()!))).toBeUndefined();
    await switched.run((s) => expect([s.isNew, s.principal]).toEqual([false, 'grace']));
  });

  it('destroyOthers() and the session limit never end it either', async () => {
    const { store, switched, others } = await switchedWhileIndexLags();
    const [asker, third] = others;
    await asker.run((s) => s.destroyOthers());
    expect(await store.get(keyOf(switched.cookie()!))).toMatchObject({ principal: 'grace' });
    expect(await store.get(keyOf(third.cookie()!))).toBeUndefined();

    const limited = testManager({ maxSessionsPerPrincipal: 1, now: () => asker.clock.now + 1000 }, store);
    await limited.run((s) => s.login('ada')); // ada's others are over the limit: only those still ada's go
    expect(await store.get(keyOf(switched.cookie()!))).toMatchObject({ principal: 'grace' });
    expect(await store.get(keyOf(asker.cookie()!))).toBeUndefined();
  });
});

// Rotation works with the single layout only.
(LAYOUT === 'single' ? describe : describe.skip)('table rotation: the copy a move forward leaves in the previous table', () => {
  const PERIOD = 3600;
  const base = randomTableName('rot-lag');
  afterAll(async () => {
    const { TableNames = [] } = await localClient().send(new ListTablesCommand({}));
    for (const table of TableNames.filter((t) => t.startsWith(`${base}_`))) await dropTable(table);
  });

  it('is deleted with the user it names, but a session now of another user is neither ended nor counted', async () => {
    const clock = { now: Date.UTC(2030, 0, 1, 0, 10) };
    const store = new DynamoDbStore({ expiry: 'rotation', tableBaseName: base, rotationPeriod: PERIOD, client: localClient(), now: () => clock.now });
    try {
      await store.ready();
      const browser = () => testManager({ maxInactiveInterval: PERIOD, now: () => clock.now }, store);
      const [switched, moved, stayed] = [browser(), browser(), browser()];
      for (const t of [switched, moved, stayed]) await t.run((s) => s.setPrincipal('ada'));
      const p0 = Math.floor(clock.now / 1000 / PERIOD) * PERIOD;
      clock.now = (p0 + PERIOD + 30) * 1000; // the next period: each write moves its session forward
      await store.rotate();
      await switched.run((s) => s.setPrincipal('grace')); // moved, then another user's; the previous table's copy still says ada
      await moved.run((s) => void (s['n'] = 1)); // moved, still ada's
      // `stayed` is only in the previous table.

      expect(await store.destroyByPrincipal('ada')).toBe(2); // moved and stayed: not the switched session's old copy
      await switched.run((s) => expect([s.isNew, s.principal]).toEqual([false, 'grace']));
      for (const t of [moved, stayed]) await t.run((s) => expect(s.isNew).toBe(true));
    } finally {
      store.close();
    }
  });
});

describe('MemoryStore: destroyByPrincipal after a switch of user', () => {
  it('ends only the sessions that still belong to the user', async () => {
    const store: SessionStore = new MemoryStore();
    const [switched, other] = [testManager({}, store), testManager({}, store)];
    for (const t of [switched, other]) await t.run((s) => s.setPrincipal('ada'));
    await switched.run((s) => s.setPrincipal('grace'));
    expect(await store.destroyByPrincipal('ada')).toBe(1);
    expect(await store.get(keyOf(switched.cookie()!))).toMatchObject({ principal: 'grace' });
  });
});
