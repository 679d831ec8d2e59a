import { gzipSync } from 'node:zlib';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { keyOf } from '../support/cookies';
import { getItem, localClient, storeOnNewTable, tableForSuite, dropTable, READ_CALL, LAYOUT } from '../support/dynamodb';
import { storeBehindProxy } from '../support/fault-proxy';
import { loginRace, testManager } from '../support/manager';
import { quietLogger } from '../support/quiet-logger';
import { SessionConflictError, SessionStoreUnavailableError, SessionTooLargeError, SessionUnreadableError } from '../../lib';

/** The id the commit's Set-Cookie carries. */
function issuedCookie(headers: ReadonlyArray<readonly [string, string]>): string {
  return /^sid=([^;]*)/.exec(headers.find(([n]) => n === 'Set-Cookie')![1])![1]!;
}

describe('rare paths on DynamoDB Local', () => {
  const suite = tableForSuite();

  describe('regenerate() racing an acknowledged write', () => {
    it('last-write-wins carries the cart to the new id and deletes the old item', async () => {
      const t = testManager({}, suite.store);
      const login = await loginRace(t);
      const oldKey = keyOf(t.cookie()!);
      const cookie = issuedCookie((await login.commit()).headers);
      const moved = await getItem(suite.tableName, keyOf(cookie));
      expect(moved!['data']).toEqual({ visits: '1', cart: '["book"]', user: '"ada"' });
      expect(await getItem(suite.tableName, oldKey)).toBeUndefined();
    });

    it("'reject' answers 409 and leaves the old session, cart included, as the only item", async () => {
      const t = testManager({ onConflict: 'reject' }, suite.store);
      const login = await loginRace(t);
      const oldKey = keyOf(t.cookie()!);
      const error = await login.commit().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SessionConflictError);
      expect((error as SessionConflictError).status).toBe(409);
      expect((await getItem(suite.tableName, oldKey))!['data']).toEqual({ visits: '1', cart: '["book"]' });
      expect(login.id).not.toBe(t.cookie());
      await expect(suite.store.get(keyOf(`${login.id}.x`))).resolves.toBeUndefined();
    });

    it('under locking the lease keeps writers out, and the move deletes the locked item', async () => {
      const t = testManager({ locking: 'all' }, suite.store);
      await t.run((s) => void (s['visits'] = 1));
      const oldKey = keyOf(t.cookie()!);
      const cookie = issuedCookie((await t.run((s) => {
        s.regenerate();
        s['user'] = 'ada';
      })).headers);
      expect(await getItem(suite.tableName, oldKey)).toBeUndefined();
      const moved = (await getItem(suite.tableName, keyOf(cookie)))!;
      expect(moved['data']).toEqual({ visits: '1', user: '"ada"' });
      expect(moved['lockOwner']).toBeUndefined();
    });
  });

  describe('size bounds', () => {
    it('refuses a 20 MB string that gzips small (413) and keeps the stored session', async () => {
      const t = testManager({}, suite.store);
      await t.run((s) => void (s['kept'] = 1));
      const key = keyOf(t.cookie()!);
      const before = await getItem(suite.tableName, key);
      await expect(t.run((s) => void (s['bomb'] = 'a'.repeat(20 * 1024 * 1024)))).rejects.toThrow(SessionTooLargeError);
      expect(await getItem(suite.tableName, key)).toEqual(before);
    });

    it('a stored 40 KB gzip bomb is refused at maxSessionBytes on read, typed', async () => {
      const t = testManager({ logger: quietLogger }, suite.store);
      await t.run((s) => void (s['a'] = 1));
      const key = keyOf(t.cookie()!);
      const item = (await getItem(suite.tableName, key))!;
      const bomb = Buffer.concat([Buffer.from([1]), gzipSync(Buffer.from(JSON.stringify('a'.repeat(40 * 1024 * 1024))), { level: 9 })]);
      expect(bomb.byteLength).toBeLessThan(60 * 1024);
      const client = localClient();
      await client.send(new PutItemCommand({ TableName: suite.tableName, Item: marshall({ ...item, data: { a: '1', bomb } }) }));
      client.destroy();
      const error = await t.request().load().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SessionUnreadableError);
      expect((error as Error).message).toMatch(/attribute "bomb" would inflate past maxSessionBytes/);
    });

    it('counts a long keyPrefix and the principal, so DynamoDB never sees an item it would refuse (413, not 500)', async () => {
      const { store, tableName } = await storeOnNewTable({ keyPrefix: 'p'.repeat(500) + ':' });
      try {
        const t = testManager({ compressThreshold: 10_000_000 }, store);
        // 400 KB less a little: under the old fixed 512-byte allowance, over the real limit with the prefix and principal.
        // Split, the value has an item of its own, without the principal: with the prefix, less is over.
        const error = await t.run((s) => {
          s.setPrincipal('u'.repeat(1000));
          s['v'] = 'x'.repeat(400 * 1024 - (LAYOUT === 'split' ? 600 : 1200));
        }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SessionTooLargeError);
        expect((error as SessionTooLargeError).status).toBe(413);
      } finally {
        await dropTable(tableName);
      }
    });
  });

  it('a user reading every half second with setMaxInactiveInterval(3) under touchAfter 30 stays logged in', async () => {
    const t = testManager({ touchAfter: 30 }, suite.store);
    await t.run((s) => {
      s['user'] = 'ada';
      s.setMaxInactiveInterval(3);
    });
    for (let i = 0; i < 20; i++) {
      t.clock.now += 500;
      await t.run((s) => expect(s['user']).toBe('ada'));
    }
    t.clock.now += 3_001;
    await t.run((s) => expect(s.isNew).toBe(true));
  });
});

describe("onStoreError 'continue-without-session' while DynamoDB reads fail", () => {
  it('a logout answers 503 and the session still works after recovery (it was never reported as logged out)', async () => {
    const behind = await storeBehindProxy({ readTimeout: 1500 });
    try {
      const t = testManager({ onStoreError: 'continue-without-session', logger: quietLogger }, behind.store);
      await t.run((s) => void (s['user'] = 'ada'));
      behind.proxy.set({ throttle: 1, operations: [READ_CALL] });
      await expect(t.run((s) => s.destroy())).rejects.toThrow(SessionStoreUnavailableError);
      await expect(t.run((s) => s.regenerate())).rejects.toThrow(SessionStoreUnavailableError);
      // A read-only request is still served, with an empty session and no cookie.
      await expect(t.run((s) => expect({ ...s }).toEqual({}))).resolves.toEqual({ headers: [] });
      behind.proxy.set({});
      await t.run((s) => expect(s['user']).toBe('ada'));
    } finally {
      await behind.close();
    }
  });
});
