import { IdSigner } from '../../lib/core/signer';
import type { SessionOptions } from '../../lib';
import { dropTable, storeOnNewTable } from '../support/dynamodb';
import { quietLogger } from '../support/quiet-logger';
import { rawRequest } from '../support/raw-http';
import { SECRET } from '../support/secrets';
import { APP_KINDS, serveApp, ServedApp } from '../support/served-app';

const signer = new IdSigner([SECRET]);

describe.each(APP_KINDS)('%s: cookie attributes and id transport', (kind) => {
  let tableName: string;
  const open: ServedApp[] = [];
  const serve = async (options: Partial<SessionOptions> = {}, trustProxy = false): Promise<ServedApp> => {
    const { store, tableName: name } = await storeOnNewTable({ tableName });
    tableName = name;
    const app = await serveApp(kind, { store, secrets: [SECRET], logger: quietLogger, ...options }, { trustProxy });
    open.push(app);
    return app;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((app) => app.close()));
  });
  afterAll(() => dropTable(tableName));

  it('defaults: HttpOnly, SameSite=Lax, Path=/, a browser-session cookie, no Secure over plain HTTP, Cache-Control: no-store', async () => {
    const app = await serve();
    const res = await rawRequest(app.url, 'POST', '/set/a/1');
    expect(res.setCookies).toHaveLength(1);
    const [cookie] = res.setCookies;
    expect(cookie).toMatch(/^sid=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it("secure: 'auto' trusts X-Forwarded-Proto only when the framework trusts the proxy", async () => {
    const trusting = await serve({}, true);
    const behindTls = await rawRequest(trusting.url, 'POST', '/set/a/1', [['X-Forwarded-Proto', 'https']]);
    expect(behindTls.setCookies[0]).toMatch(/; Secure/);
    const plain = await rawRequest(trusting.url, 'POST', '/set/a/1');
    expect(plain.setCookies[0]).not.toMatch(/Secure/);

    const untrusting = await serve();
    const spoofed = await rawRequest(untrusting.url, 'POST', '/set/a/1', [['X-Forwarded-Proto', 'https']]);
    expect(spoofed.setCookies[0]).not.toMatch(/Secure/);
  });

  it('a __Host- cookie with secure: true carries Secure, Path=/ and no Domain', async () => {
    const app = await serve({ cookie: { name: '__Host-sid', secure: true } });
    const res = await rawRequest(app.url, 'POST', '/set/a/1');
    expect(res.setCookies[0]).toMatch(/^__Host-sid=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    const back = await rawRequest(app.url, 'GET', '/read', [['Cookie', res.setCookies[0]!.split(';')[0]!]]);
    expect(JSON.parse(back.body)).toEqual({ isNew: false, data: { a: '1' } });
  });

  it('idHeader: ids travel in the header, never in a cookie; a bad header value gets a fresh id', async () => {
    const app = await serve({ idHeader: 'X-Session-Id' });
    const created = await rawRequest(app.url, 'POST', '/set/a/1', [['X-Session-Id', 'garbage\u00ff']]);
    expect(created.setCookies).toEqual([]);
    const id = created.headers['x-session-id'] as string;
    expect(signer.verify(id)).toBeDefined();
    expect(created.headers['cache-control']).toBe('no-store');
    const back = await rawRequest(app.url, 'GET', '/read', [['X-Session-Id', id], ['Cookie', 'sid=ignored']]);
    expect(JSON.parse(back.body)).toEqual({ isNew: false, data: { a: '1' } });
    const doubled = await rawRequest(app.url, 'GET', '/read', [['X-Session-Id', 'garbage'], ['X-Session-Id', id]]);
    expect(JSON.parse(doubled.body)).toMatchObject({ isNew: true }); // Node joins repeats into one value, which is not an id
  });
});
