import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { keyOf, sessionCookieValue, setCookies } from '../support/cookies';
import { dropTable, getItem, localClient, rawKey, scanItems, storeOnNewTable, tableForSuite } from '../support/dynamodb';
import { testManager } from '../support/manager';
import { quietLogger } from '../support/quiet-logger';
import { SECRET } from '../support/secrets';
import { APP_KINDS, serveApp, ServedApp } from '../support/served-app';
import { bodyOf } from '../support/response-body';
import { SessionUnreadableError } from '../../lib';

/**
 * Issue 23, defect 2: three last-write-wins writers, each within maxSessionBytes on its own view, push a
 * session past what a load may inflate. Such a session (or one holding a value nothing can decode any more)
 * is answered with a typed 4xx about reading, never a 500, and a logout ends it without reading it.
 */

const MAX_SESSION_BYTES = 10_000;
/** What the message says, whatever the cause: it is about reading, and it names the way out. */
const READING = /^The stored session could not be read: .*End it with destroy\(\)/;

/** Raw items (a split session's head and parts too) under the session's key. */
async function itemsOf(tableName: string, key: string): Promise<Array<Record<string, unknown>>> {
  return (await scanItems(tableName)).filter((item) => item['sessionId'] === key);
}

/** Writes a stored value straight into the session's item (its head, when split), as a bug or an old release might have. */
async function writeRawValue(tableName: string, key: string, name: string, value: { B: Uint8Array } | { S: string }): Promise<void> {
  const client = localClient();
  try {
    await client.send(new UpdateItemCommand({
      TableName: tableName, Key: rawKey(key),
      UpdateExpression: 'SET #data.#name = :value',
      ExpressionAttributeNames: { '#data': 'data', '#name': name },
      ExpressionAttributeValues: { ':value': value },
    }));
  } finally {
    client.destroy();
  }
}

function clearsTheCookie(headers: Record<string, unknown>): boolean {
  return setCookies(headers).some((c) => /^sid=;/.test(c) && /Expires=Thu, 01 Jan 1970/.test(c));
}

describe.each(APP_KINDS)('a session no load can read, on %s', (kind) => {
  const suite = tableForSuite();
  let app: ServedApp;

  beforeAll(async () => {
    app = await serveApp(kind, { store: suite.store, secrets: [SECRET], maxSessionBytes: MAX_SESSION_BYTES, logger: quietLogger });
  });
  afterAll(() => app.close());

  /** A session holding `user`, and its cookie. */
  async function newSession(): Promise<string> {
    const res = await request(app.url).post('/set/user/ada');
    expect(res.status).toBeLessThan(300);
    return sessionCookieValue(res.headers)!;
  }

  /** The unreadable session's load: the typed 4xx with a message about reading, and no value in it. */
  async function expectUnreadable(cookie: string, attribute: unknown, secret?: string): Promise<SessionUnreadableError> {
    app.errors.length = 0;
    const res = await request(app.url).get('/read').set('Cookie', `sid=${cookie}`);
    expect(res.status).toBe(422);
    const error = app.errors.find((e): e is SessionUnreadableError => e instanceof SessionUnreadableError);
    expect(error).toBeDefined();
    expect(error!.status).toBe(422);
    expect(error!.attribute).toEqual(attribute);
    expect(error!.message).toMatch(READING);
    expect(res.text).toContain('The stored session could not be read');
    if (secret !== undefined) {
      expect(res.text).not.toContain(secret);
      expect(error!.message).not.toContain(secret);
    }
    return error!;
  }

  /** The logout answers 2xx, clears the cookie and leaves nothing under the key; the next request starts empty. */
  async function expectEndedBy(route: string, cookie: string): Promise<void> {
    const key = keyOf(cookie);
    const res = await request(app.url).post(route).set('Cookie', `sid=${cookie}`);
    expect(res.status).toBeLessThan(300);
    expect(clearsTheCookie(res.headers)).toBe(true);
    expect(await itemsOf(suite.tableName, key)).toEqual([]);
    // A client that keeps the old cookie anyway gets a new, empty session.
    const after = await request(app.url).get('/read').set('Cookie', `sid=${cookie}`).expect(200);
    expect(bodyOf(after)).toEqual({ isNew: true, data: {} });
  }

  /** Three concurrent requests each add 9 KB of random text: each is within maxSessionBytes on its own view. */
  async function pushedPastTheBound(): Promise<string> {
    const cookie = await newSession();
    const writes = await Promise.all(['a', 'b', 'c'].map((name) =>
      request(app.url).post(`/slow-big/${name}/9?ms=400`).set('Cookie', `sid=${cookie}`)));
    expect(writes.map((w) => w.status < 300)).toEqual([true, true, true]);
    const stored = (await getItem(suite.tableName, keyOf(cookie)))!;
    expect(Object.keys(stored['data'] as object).sort()).toEqual(['a', 'b', 'c', 'user']);
    return cookie;
  }

  it('three concurrent 9 KB writers under maxSessionBytes 10000 all get 2xx; the load then answers 422 about reading, and a logout without a load ends it', async () => {
    const cookie = await pushedPastTheBound();
    // The value that takes the decoded total past twice the bound is the third large one read (map order is DynamoDB's).
    const third: unknown = expect.stringMatching(/^[abc]$/);
    const error = await expectUnreadable(cookie, third);
    expect(error.message).toMatch(/would inflate the session past twice maxSessionBytes \(20000 bytes;/);
    await expectUnreadable(cookie, third); // every load, not only the first
    // A logout that loads first gets the same 422 (it cannot read what it would end), and nothing changes.
    expect((await request(app.url).post('/logout').set('Cookie', `sid=${cookie}`)).status).toBe(422);
    expect(await getItem(suite.tableName, keyOf(cookie))).toBeDefined();
    await expectEndedBy('/logout-unread', cookie);
  });

  it('a logout that tried the load first still ends it', async () => {
    const cookie = await pushedPastTheBound();
    await expectEndedBy('/logout-after-load', cookie);
  });

  it('a value that can no longer be decoded (corrupt gzip) answers the same 422 and can be ended', async () => {
    const cookie = await newSession();
    const truncated = gzipSync(Buffer.from(JSON.stringify('secret-value-0123456789'))).subarray(0, 12);
    await writeRawValue(suite.tableName, keyOf(cookie), 'prefs', { B: Buffer.concat([Buffer.from([1]), truncated]) });
    await expectUnreadable(cookie, 'prefs');
    await expectEndedBy('/logout-after-load', cookie);
  });

  it('text the serializer cannot decode answers 422 without echoing the stored text, and can be ended', async () => {
    const cookie = await newSession();
    await writeRawValue(suite.tableName, keyOf(cookie), 'prefs', { S: '{"token":"secret-value-0123456789"' });
    await expectUnreadable(cookie, 'prefs', 'secret-value-0123456789');
    await expectEndedBy('/logout-unread', cookie);
  });

  it('a plain logout of a readable session works as before', async () => {
    const cookie = await newSession();
    await expectEndedBy('/logout', cookie);
  });

  it('a logout without a load and without a valid cookie has nothing to end', async () => {
    const res = await request(app.url).post('/logout-unread').set('Cookie', 'sid=forged');
    expect(res.status).toBeLessThan(300);
    expect(setCookies(res.headers)).toEqual([]);
  });
});

describe('ending a session without reading it, at the request level', () => {
  let suite: Awaited<ReturnType<typeof storeOnNewTable>>;
  beforeAll(async () => {
    suite = await storeOnNewTable();
  });
  afterAll(() => dropTable(suite.tableName));

  /** A session three last-write-wins writers pushed past the read bound; returns its cookie. */
  async function unreadableSession(): Promise<string> {
    const writers = testManager({ maxSessionBytes: MAX_SESSION_BYTES }, suite.store);
    await writers.run((s) => void (s['user'] = 'ada'));
    const contexts = [writers.request(), writers.request(), writers.request()];
    const sessions = await Promise.all(contexts.map((c) => c.load()));
    sessions.forEach((s, i) => void (s[`v${i}`] = randomText(9 * 1024)));
    for (const c of contexts) await c.commit();
    return writers.cookie()!;
  }

  it('under locking: the failed load gives its lease back, and destroy() then deletes the item and clears the cookie', async () => {
    const t = testManager({ maxSessionBytes: MAX_SESSION_BYTES, locking: 'all', logger: quietLogger }, suite.store);
    t.setCookie(await unreadableSession());
    const key = keyOf(t.cookie()!);
    const ctx = t.request();
    await expect(ctx.load()).rejects.toThrow(SessionUnreadableError);
    expect((await getItem(suite.tableName, key))!['lockOwner']).toBeUndefined();
    ctx.destroy();
    const { headers } = await ctx.commit();
    expect(headers.some(([name, value]) => name === 'Set-Cookie' && /^sid=;/.test(value))).toBe(true);
    expect(await itemsOf(suite.tableName, key)).toEqual([]);
  });

  it('under locking: destroy() without a load takes no lease and deletes the item', async () => {
    const t = testManager({ locking: 'all' }, suite.store);
    await t.run((s) => void (s['user'] = 'ada'));
    const key = keyOf(t.cookie()!);
    const ctx = t.request();
    suite.log.clear();
    ctx.destroy();
    const { headers } = await ctx.commit();
    expect(headers.some(([name, value]) => name === 'Set-Cookie' && /^sid=;/.test(value))).toBe(true);
    // No read and no lease (an UpdateItem): only the delete.
    expect(suite.log.calls.filter((c) => c !== 'DeleteItem' && c !== 'BatchWriteItem')).toEqual([]);
    expect(suite.log.count('DeleteItem')).toBeGreaterThan(0);
    expect(await itemsOf(suite.tableName, key)).toEqual([]);
    // After a destroy the request's session is a new, empty one, not the one it ended.
    suite.log.clear();
    const s = await ctx.load();
    expect(s.isNew).toBe(true);
    expect({ ...s }).toEqual({});
    expect(suite.log.calls).toEqual([]);
  });

  it.each([
    ['no cookie', undefined],
    ['a forged cookie', `${'A'.repeat(43)}.${'B'.repeat(43)}`],
    ['a malformed cookie', 'garbage'],
  ])('destroy() without a load and with %s costs no store call and clears nothing', async (_name, cookie) => {
    const t = testManager({}, suite.store);
    t.setCookie(cookie);
    const ctx = t.request();
    suite.log.clear();
    ctx.destroy();
    expect(await ctx.commit()).toEqual({ headers: [] });
    expect(suite.log.calls).toEqual([]);
  });

  it('destroy() while the load is under way ends the session, and the load does not bring it back', async () => {
    const t = testManager({}, suite.store);
    await t.run((s) => void (s['user'] = 'ada'));
    const key = keyOf(t.cookie()!);
    const ctx = t.request();
    const loading = ctx.load();
    ctx.destroy();
    expect({ ...(await loading) }).toEqual({});
    await ctx.commit();
    expect(await itemsOf(suite.tableName, key)).toEqual([]);
  });

  it('destroy() then new attributes: the old session is deleted and a new one holds them', async () => {
    const t = testManager({}, suite.store);
    await t.run((s) => void (s['user'] = 'ada'));
    const oldKey = keyOf(t.cookie()!);
    const ctx = t.request();
    ctx.destroy();
    (await ctx.load())['flash'] = 'signed out';
    const { headers } = await ctx.commit();
    const cookie = /^sid=([^;]+)/.exec(headers.find(([name]) => name === 'Set-Cookie')![1])![1]!;
    expect(await itemsOf(suite.tableName, oldKey)).toEqual([]);
    expect((await getItem(suite.tableName, keyOf(cookie)))!['data']).toEqual({ flash: '"signed out"' });
  });
});

/** Text gzip cannot shrink much, `bytes` long. */
function randomText(bytes: number): string {
  return randomBytes(Math.ceil((bytes * 3) / 4)).toString('base64').slice(0, bytes);
}
