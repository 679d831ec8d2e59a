import { AttributeValue, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { generateSessionId, storageKeyOf } from '../../lib/core/ids';
import { IdSigner } from '../../lib/core/signer';
import { SessionKeyError, SessionSerializationError } from '../../lib';
import { CallLog, getItem, localClient, scanTable, storeOnNewTable, dropTable, READ_CALL, RAW_HEAD_FIELDS, rawKey } from '../support/dynamodb';
import { keyOf, sessionCookieValue } from '../support/cookies';
import { quietLogger } from '../support/quiet-logger';
import { rawRequest, RawResponse } from '../support/raw-http';
import { SECRET } from '../support/secrets';
import { APP_KINDS, serveApp, ServedApp } from '../support/served-app';

const signer = new IdSigner([SECRET]);
const strangerSigner = new IdSigner(['a-secret-this-app-never-had-0123456789abcdef']);
const utf8 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1'); // raw UTF-8 bytes on the wire

/** What the suite knows when it builds a case: a live session's cookie and ids in various states. */
interface Known {
  live: string;
  expired: string;
  destroyed: string;
}

type Outcome =
  | 'fresh' // a new, empty session; the given id costs no DynamoDB call
  | 'fresh-after-lookup' // well signed, so one read, which finds nothing usable: a new, empty session
  | 'adopts-live'; // the live session is served

interface CookieCase {
  readonly name: string;
  readonly headers: (k: Known) => Array<[string, string]>;
  readonly outcome: Outcome;
  /** Appended to the path, for ids offered in the URL. */
  readonly query?: (k: Known) => string;
}

const cookie = (value: string): Array<[string, string]> => [['Cookie', value]];
const tamper = (s: string, at: number): string => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);

const COOKIE_CASES: CookieCase[] = [
  { name: 'empty value', headers: () => cookie('sid='), outcome: 'fresh' },
  { name: 'garbage value', headers: () => cookie('sid=not-a-session'), outcome: 'fresh' },
  { name: 'id without signature', headers: (k) => cookie(`sid=${k.live.split('.')[0]}`), outcome: 'fresh' },
  { name: 'signature with one character changed', headers: (k) => cookie(`sid=${tamper(k.live, 60)}`), outcome: 'fresh' },
  { name: 'id with one character changed, original signature', headers: (k) => cookie(`sid=${tamper(k.live, 5)}`), outcome: 'fresh' },
  { name: 'signature of another id', headers: (k) => cookie(`sid=${generateSessionId()}.${k.live.split('.')[1]}`), outcome: 'fresh' },
  { name: 'signed with a secret this app does not have', headers: () => cookie(`sid=${strangerSigner.sign(generateSessionId())}`), outcome: 'fresh' },
  { name: '42-character id, validly signed', headers: () => cookie(`sid=${signer.sign(generateSessionId().slice(0, 42))}`), outcome: 'fresh' },
  { name: '44-character id, validly signed', headers: () => cookie(`sid=${signer.sign(`${generateSessionId()}A`)}`), outcome: 'fresh' },
  { name: 'id with base64 (not base64url) characters, validly signed', headers: () => cookie(`sid=${signer.sign(`${'+/'.repeat(21)}A`)}`), outcome: 'fresh' },
  { name: 'signature with padding appended', headers: (k) => cookie(`sid=${k.live}=`), outcome: 'fresh' },
  { name: '8 KB value', headers: () => cookie(`sid=${'x'.repeat(8192)}`), outcome: 'fresh' },
  { name: 'unicode value (raw UTF-8 bytes)', headers: () => cookie(utf8('sid=ünïcødé✓🍪')), outcome: 'fresh' },
  { name: 'malformed percent-encoding', headers: () => cookie('sid=%E0%A4%A'), outcome: 'fresh' },
  { name: 'encoded CR LF trying to inject a header', headers: () => cookie('sid=%0d%0aSet-Cookie:%20evil=1%0d%0aX-Evil:%201'), outcome: 'fresh' },
  { name: 'NUL and control bytes', headers: () => cookie('sid=%00%01%1b[31m'), outcome: 'fresh' },
  { name: 'quoted signed value', headers: (k) => cookie(`sid="${k.live}"`), outcome: 'fresh' },
  { name: 'well-signed id that was never stored (fixation)', headers: () => cookie(`sid=${signer.sign(generateSessionId())}`), outcome: 'fresh-after-lookup' },
  { name: 'id of an expired session', headers: (k) => cookie(`sid=${k.expired}`), outcome: 'fresh-after-lookup' },
  { name: 'id of a destroyed session (replayed after logout)', headers: (k) => cookie(`sid=${k.destroyed}`), outcome: 'fresh-after-lookup' },
  { name: 'duplicate names, garbage first', headers: (k) => cookie(`sid=garbage; sid=${k.live}`), outcome: 'fresh' },
  { name: 'duplicate names, the live one first', headers: (k) => cookie(`sid=${k.live}; sid=garbage`), outcome: 'adopts-live' },
  { name: 'two Cookie headers', headers: (k) => [['Cookie', 'sid=garbage'], ['Cookie', `sid=${k.live}`]], outcome: 'fresh' },
  { name: 'prototype-named cookies beside the session', headers: () => cookie('__proto__=polluted; constructor=x; prototype=y; hasOwnProperty=1; sid=x'), outcome: 'fresh' },
  {
    name: 'live id offered in the query string and headers instead of the cookie',
    headers: (k) => [['X-Session-Id', k.live], ['Authorization', `Bearer ${k.live}`]],
    query: (k) => `?sid=${encodeURIComponent(k.live)}&sessionId=${encodeURIComponent(k.live)}`,
    outcome: 'fresh',
  },
];

describe.each(APP_KINDS)('%s: bad client input', (kind) => {
  let app: ServedApp;
  let log: CallLog;
  let tableName: string;
  const known = {} as Known;
  /** Every session key the server ever issued: the only keys the table may hold. */
  const issuedKeys = new Set<string>();

  const send = async (method: string, path: string, headers: Array<[string, string]> = []): Promise<RawResponse> => {
    const res = await rawRequest(app.url, method, path, headers);
    const sid = sessionCookieValue(res.headers);
    if (sid) issuedKeys.add(keyOf(sid));
    return res;
  };
  const newSession = async (): Promise<string> => sessionCookieValue((await send('POST', '/set/owner/me')).headers)!;

  beforeAll(async () => {
    let store;
    ({ store, log, tableName } = await storeOnNewTable());
    app = await serveApp(kind, { store, secrets: [SECRET], logger: quietLogger });
    known.live = await newSession();
    known.expired = await newSession();
    await localClient().send(new UpdateItemCommand({
      TableName: tableName, Key: rawKey(keyOf(known.expired)),
      UpdateExpression: 'SET expiresAt = :past', ExpressionAttributeValues: { ':past': { N: String(Math.floor(Date.now() / 1000) - 60) } },
    }));
    known.destroyed = await newSession();
    await send('POST', '/logout', cookie(`sid=${known.destroyed}`));
  });
  afterAll(async () => {
    try {
      // No id the server did not issue itself was ever written, whatever the suite sent.
      const keys = (await scanTable(tableName)).map((item) => String(item['sessionId']));
      expect(keys.length).toBeGreaterThan(30);
      expect(keys.filter((key) => !issuedKeys.has(key))).toEqual([]);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    } finally {
      await app.close();
      await dropTable(tableName);
    }
  });

  describe('cookies and ids', () => {
    it.each(COOKIE_CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => {
      log.clear();
      const query = c.query?.(known) ?? '';
      const read = await send('GET', `/read${query}`, c.headers(known));
      expect(read.status).toBe(200);
      expect((JSON.parse(read.body) as { isNew: boolean }).isNew).toBe(c.outcome !== 'adopts-live');
      expect(log.calls).toEqual(c.outcome === 'fresh' ? [] : [READ_CALL]);

      const write = await send('POST', `/set/probe/1${query}`, c.headers(known));
      expect(write.status).toBeLessThan(300);
      expect(write.rawHeaders).not.toMatch(/evil/i);
      const issued = sessionCookieValue(write.headers);
      if (c.outcome === 'adopts-live') {
        expect(issued).toBeUndefined();
        expect((await getItem(tableName, keyOf(known.live)))?.['data']).toMatchObject({ probe: '"1"' });
      } else {
        expect(signer.verify(issued)).toBeDefined(); // a new id of ours, never the one offered
        expect(issued).not.toBe(known.live);
        expect((await getItem(tableName, keyOf(issued!)))?.['data']).toEqual({ probe: '"1"' });
      }
    });

    it('an expired session is left as it was, not rewritten by the request that found it expired', async () => {
      expect((await getItem(tableName, keyOf(known.expired)))?.['data']).toEqual({ owner: '"me"' });
    });

    it('a Cookie header over Node\'s header limit is answered 431 by Node, and the app keeps serving', async () => {
      const res = await send('GET', '/read', cookie(`sid=${'x'.repeat(20_000)}`));
      expect(res.status).toBe(431);
      expect((await send('GET', '/read')).status).toBe(200);
    });
  });

  describe('attribute names and values the client controls', () => {
    it.each(['__proto__', 'constructor', 'prototype', 'id', 'destroy'])('attribute name %s: 400, nothing stored, no pollution', async (name) => {
      const sid = await newSession();
      app.errors.length = 0;
      const res = await send('POST', `/set/${name}/polluted`, cookie(`sid=${sid}`));
      expect(res.status).toBe(400);
      expect(app.errors).toEqual([expect.any(SessionKeyError)]);
      expect((await getItem(tableName, keyOf(sid)))?.['data']).toEqual({ owner: '"me"' });
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    });

    it.each([
      ['nested __proto__', '{"a":{"__proto__":{"polluted":true}}}'],
      ['constructor.prototype', '{"constructor":{"prototype":{"polluted":true}}}'],
      ['__proto__ inside an array', '[{"__proto__":{"polluted":true}}]'],
    ])('JSON with %s: 400, nothing stored, no pollution', async (_, json) => {
      const sid = await newSession();
      const res = await send('POST', '/json/profile', [['Cookie', `sid=${sid}`], ['X-Json', json]]);
      expect(res.status).toBe(400);
      expect((await getItem(tableName, keyOf(sid)))?.['data']).toEqual({ owner: '"me"' });
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    });

    it('prototype keys planted in a stored item are dropped on load and pollute nothing', async () => {
      const id = generateSessionId();
      issuedKeys.add(storageKeyOf(id));
      await localClient().send(new PutItemCommand({
        TableName: tableName,
        Item: {
          ...RAW_HEAD_FIELDS, sessionId: { S: storageKeyOf(id) }, version: { N: '1' }, createdAt: { N: String(Date.now()) }, lastAccessedAt: { N: String(Date.now()) },
          expiresAt: { N: String(Math.floor(Date.now() / 1000) + 600) },
          // JSON.parse makes "__proto__" an own key, as a stored item read back would have it.
          data: { M: JSON.parse('{"__proto__":{"S":"{\\"polluted\\":true}"},"ok":{"S":"{\\"a\\":{\\"__proto__\\":{\\"polluted\\":true}},\\"b\\":1}"}}') as Record<string, AttributeValue> },
        },
      }));
      const res = await send('GET', '/read', cookie(`sid=${signer.sign(id)}`));
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ isNew: false, data: { ok: { a: {}, b: 1 } } });
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    });

    it('JSON nested 5000 levels deep: 413 rather than a stack overflow, nothing stored', async () => {
      const sid = await newSession();
      const res = await send('POST', '/json/tree', [['Cookie', `sid=${sid}`], ['X-Json', `${'['.repeat(5000)}${']'.repeat(5000)}`]]);
      expect(res.status).toBe(413);
      expect((await getItem(tableName, keyOf(sid)))?.['data']).toEqual({ owner: '"me"' });
      expect((await send('GET', '/read')).status).toBe(200);
    });

    it('a value still over 400 KB once compressed: 413 naming the attribute, the stored session intact', async () => {
      const sid = await newSession();
      const res = await send('POST', '/big/photo/600', cookie(`sid=${sid}`)); // 600 KB of random base64, about 450 KB gzip'd
      expect(res.status).toBe(413);
      expect(res.body).toMatch(/photo/);
      expect((await getItem(tableName, keyOf(sid)))?.['data']).toEqual({ owner: '"me"' });
    });
  });

  describe('app errors (not client input): typed, named, nothing written', () => {
    it('a value JSON cannot keep is a 500 naming the path and writes nothing', async () => {
      const sid = await newSession();
      app.errors.length = 0;
      const res = await send('POST', '/bigint', cookie(`sid=${sid}`));
      expect(res.status).toBe(500);
      expect(app.errors).toEqual([expect.any(SessionSerializationError)]);
      expect((app.errors[0] as Error).message).toMatch(/attribute n\.big cannot be stored: a bigint/);
      expect((await getItem(tableName, keyOf(sid)))?.['data']).toEqual({ owner: '"me"' });
    });
  });

  describe('races and clocks', () => {
    it('destroy during a concurrent write: the write is refused with 409 and the session is not resurrected', async () => {
      const sid = await newSession();
      const slow = send('POST', '/slow-set/cart/full?ms=300', cookie(`sid=${sid}`));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const logout = await send('POST', '/logout', cookie(`sid=${sid}`));
      expect(logout.status).toBeLessThan(300);
      expect((await slow).status).toBe(409);
      expect(await getItem(tableName, keyOf(sid))).toBeUndefined();
    });

    it('a node whose clock runs 2 h ahead treats a 30-minute session as expired: fresh session, the item untouched', async () => {
      const sid = await newSession();
      const before = await getItem(tableName, keyOf(sid));
      const { store } = await storeOnNewTable({ tableName, createIfNotExist: false });
      const ahead = await serveApp(kind, { store, secrets: [SECRET], logger: quietLogger, now: () => Date.now() + 2 * 3600_000 });
      try {
        const res = await rawRequest(ahead.url, 'POST', '/set/probe/1', cookie(`sid=${sid}`));
        expect(res.status).toBeLessThan(300);
        expect(keyOf(sessionCookieValue(res.headers)!)).not.toBe(keyOf(sid));
        issuedKeys.add(keyOf(sessionCookieValue(res.headers)!));
        expect(await getItem(tableName, keyOf(sid))).toEqual(before);
      } finally {
        await ahead.close();
      }
    });

    it('a node whose clock runs 10 min behind still serves and extends the session; the others keep reading it', async () => {
      const sid = await newSession();
      const { store } = await storeOnNewTable({ tableName, createIfNotExist: false });
      const behind = await serveApp(kind, { store, secrets: [SECRET], logger: quietLogger, now: () => Date.now() - 600_000 });
      try {
        const res = await rawRequest(behind.url, 'POST', '/set/late/1', cookie(`sid=${sid}`));
        expect(res.status).toBeLessThan(300);
        expect(sessionCookieValue(res.headers)).toBeUndefined();
        const read = await send('GET', '/read', cookie(`sid=${sid}`));
        expect(JSON.parse(read.body)).toEqual({ isNew: false, data: { owner: 'me', late: '1' } });
      } finally {
        await behind.close();
      }
    });
  });
});
