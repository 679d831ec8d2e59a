import { expect } from '@jest/globals';
import { MemoryStore, SessionKeyError } from '../../lib';
import type { SessionStore } from '../../lib';
import { ACCOUNT_INDEX_READ, MAX_ENDED_PER_REQUEST, MAX_LISTED_SESSIONS } from '../../lib/core/account';
import { dropTable, LAYOUT, READ_CALL, storageKey, storeOnNewTable } from '../support/dynamodb';
import { FaultyStore } from '../support/faulty-store';
import { keyOf } from '../support/cookies';
import { testManager } from '../support/manager';
import { quietLogger } from '../support/quiet-logger';

/**
 * Bounded work per request in the account controls (docs/accounts.md, "What a request costs, at most"): a user
 * holding 500 sessions (minted without maxSessionsPerPrincipal, or before it was set) costs a request no more
 * DynamoDB calls than the documented bounds.
 */
const MINTED = 500;
/** The reads a plain load makes, and a read of another session (destroyOther's check): GetItem, or a Query when split. */
const READ = READ_CALL;

describe(`account controls: bounded work for a user holding ${MINTED} sessions`, () => {
  const tables: string[] = [];
  afterAll(async () => {
    for (const table of tables) await dropTable(table);
  });

  /** `MINTED` sessions of ada used over the last hour (keys of the real shape), then one browser of ada logged in now. */
  async function minted(options: Parameters<typeof testManager>[0] = {}) {
    const { store, log, tableName } = await storeOnNewTable();
    tables.push(tableName);
    const t = testManager(options, store);
    const keys = Array.from({ length: MINTED }, (_, i) => storageKey(`ada-${i}`));
    await mint(store, keys, t.clock.now);
    t.clock.now += 1000;
    await t.run((s) => s.login('ada'));
    log.clear();
    return { store, log, t, keys };
  }

  it(`otherSessions(): one index Query reading at most ${ACCOUNT_INDEX_READ} entries, ${MAX_LISTED_SESSIONS} listed, most recently used first`, async () => {
    const { log, t } = await minted();
    let listed: Awaited<ReturnType<import('../../lib').Session['otherSessions']>> = [];
    await t.run(async (s) => void (listed = await s.otherSessions()));
    expect(log.calls).toEqual([READ, 'Query']);
    expect(log.inputs[1]!.input).toMatchObject({ IndexName: 'principal-sessions', Limit: ACCOUNT_INDEX_READ });
    expect(listed).toHaveLength(MAX_LISTED_SESSIONS);
    expect(listed.map((o) => o.lastAccessedAt)).toEqual([...listed.map((o) => o.lastAccessedAt)].sort((a, b) => b - a));
  });

  it(`destroyOthers(): one Query and at most ${MAX_ENDED_PER_REQUEST} conditional deletes per request; the next request ends the next ones`, async () => {
    const warnings: string[] = [];
    const { store, log, t } = await minted({ logger: { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} } });
    await t.run((s) => s.destroyOthers());
    expect(warnings).toEqual([expect.stringMatching(/^destroyOthers: this user has more other sessions than one request ends \(100\); the rest go with the next destroyOthers\(\)/)]);
    expect(log.count('DeleteItem')).toBe(MAX_ENDED_PER_REQUEST);
    expect(log.count('Query')).toBe(LAYOUT === 'split' ? 2 : 1); // the index Query (and the split layout's load)
    expect(log.count('BatchWriteItem')).toBe(0); // no parts to delete
    expect(log.count()).toBeLessThanOrEqual(MAX_ENDED_PER_REQUEST + 3); // + the load, the index Query, the session's own write
    expect(await live(store, t.clock.now)).toBe(MINTED + 1 - MAX_ENDED_PER_REQUEST);
    log.clear();
    await t.run((s) => s.destroyOthers());
    expect(log.count('DeleteItem')).toBe(MAX_ENDED_PER_REQUEST);
    expect(await live(store, t.clock.now)).toBe(MINTED + 1 - 2 * MAX_ENDED_PER_REQUEST);
  });

  it(`maxSessionsPerPrincipal: a login ends at most ${MAX_ENDED_PER_REQUEST} sessions, the least recently used of those read`, async () => {
    const { store, log, t } = await minted(); // the limit is set after the sessions were minted
    const evicted: string[] = [];
    const phone = testManager({ maxSessionsPerPrincipal: 3, now: () => t.clock.now }, store);
    phone.manager.on('evicted', (e) => evicted.push(e.key));
    t.clock.now += 1000;
    await phone.run((s) => s.login('ada'));
    expect(evicted).toHaveLength(MAX_ENDED_PER_REQUEST);
    expect(log.count('DeleteItem')).toBe(MAX_ENDED_PER_REQUEST);
    expect(log.inputs.find((c) => c.command === 'Query' && c.input['IndexName'] !== undefined)?.input).toMatchObject({ Limit: ACCOUNT_INDEX_READ });
    // + the index Query, a read of each of the (limit - 1) sessions that stay, and the login's own create
    expect(log.count()).toBeLessThanOrEqual(MAX_ENDED_PER_REQUEST + 1 + 2 + 2);
    expect(evicted).not.toContain(keyOf(t.cookie()!)); // the most recently used others stay
    expect(await live(store, t.clock.now)).toBe(MINTED + 2 - MAX_ENDED_PER_REQUEST);
  });

  it(`destroyOther(): at most ${MAX_ENDED_PER_REQUEST} handles per request, each a read and a conditional delete; more are a 400 that costs nothing`, async () => {
    const { store, log, t, keys } = await minted();
    await expect(t.run((s) => {
      for (const key of keys.slice(0, MAX_ENDED_PER_REQUEST + 1)) s.destroyOther(key);
    })).rejects.toBeInstanceOf(SessionKeyError);
    expect(log.calls).toEqual([READ]); // the load only
    expect(await live(store, t.clock.now)).toBe(MINTED + 1);
    log.clear();
    await t.run((s) => {
      for (const key of keys.slice(0, MAX_ENDED_PER_REQUEST)) s.destroyOther(key);
    });
    expect(log.count(READ)).toBe(1 + MAX_ENDED_PER_REQUEST);
    expect(log.count('DeleteItem')).toBe(MAX_ENDED_PER_REQUEST);
    expect(log.count()).toBeLessThanOrEqual(2 * MAX_ENDED_PER_REQUEST + 2);
    expect(await live(store, t.clock.now)).toBe(MINTED + 1 - MAX_ENDED_PER_REQUEST);
  });
});

describe('account controls on any store: the same bounds', () => {
  it('MemoryStore behind a call counter: one index read per listing or sign-out, at most 100 ended', async () => {
    const store = new FaultyStore(new MemoryStore());
    const t = testManager({ logger: quietLogger }, store);
    await mint(store, Array.from({ length: MINTED }, (_, i) => storageKey(`ada-${i}`)), t.clock.now);
    t.clock.now += 1000;
    await t.run((s) => s.login('ada'));
    store.takeCalls();
    await t.run(async (s) => expect(await s.otherSessions()).toHaveLength(MAX_LISTED_SESSIONS));
    expect(store.takeCalls().map((c) => c.operation)).toEqual(['get', 'findByPrincipal']);
    await t.run((s) => s.destroyOthers());
    const calls = store.takeCalls().map((c) => c.operation);
    expect(calls.filter((c) => c === 'findByPrincipal')).toHaveLength(1);
    expect(calls.filter((c) => c === 'destroy')).toHaveLength(MAX_ENDED_PER_REQUEST);
    expect(await live(store, t.clock.now)).toBe(MINTED + 1 - MAX_ENDED_PER_REQUEST);
  });
});

/** Sessions of ada under `keys`, created through the store API, 50 at a time, each used a second after the one before. */
async function mint(store: SessionStore, keys: readonly string[], now: number): Promise<void> {
  const start = now - keys.length * 1000;
  for (let i = 0; i < keys.length; i += 50) {
    await Promise.all(keys.slice(i, i + 50).map((key, j) => {
      const at = start + (i + j) * 1000;
      return store.create(key, { createdAt: at, lastAccessedAt: at, expiresAt: Math.floor(now / 1000) + 1800, data: {}, principal: 'ada' });
    }));
  }
}

/** How many live sessions ada has, read without a limit. */
async function live(store: SessionStore, now: number): Promise<number> {
  return (await store.findByPrincipal('ada', now)).length;
}
