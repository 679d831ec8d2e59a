/**
 * Consumer tests on the packed tarball: each app in consumers/apps is copied to
 * <os tmpdir>/dynamo-session-consumers/<app>, outside the repository, installed from its own lockfile plus the tarball,
 * type-checked by its own tsc (skipLibCheck: false), started as a child process
 * against DynamoDB Local behind a counting proxy, and driven through
 * login → write → read → logout. See consumers/README.md.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { dropTable, endpoint, randomTableName } from '../spec/support/dynamodb';
import { CountingProxy } from './counting-proxy';

const ROOT = resolve(__dirname, '..');
const APPS_DIR = join(__dirname, 'apps');
// Outside the repository: Node and tsc look up parent folders for modules and types, and the repository's own
// node_modules must not stand in for a dependency the tarball forgot to declare.
const SCRATCH = join(tmpdir(), 'dynamo-session-consumers');
/** How many apps install and type-check at once (npm is mostly waiting on I/O, tsc on the CPU). */
const CONCURRENCY = Math.max(1, Number(process.env['CONSUMERS_CONCURRENCY'] ?? 2));

type AppName = 'nest12-esm' | 'nest11-cjs' | 'nest10-cjs' | 'koa2-cjs' | 'koa3-esm';
type Platform = 'express' | 'fastify';

interface ConsumerCase {
  readonly title: string;
  readonly app: AppName;
  readonly platform?: Platform;
  /** Run on this Node major (the npm `node` package's binary) instead of the Node running jest. */
  readonly node?: '22';
}

const ALL_CASES: readonly ConsumerCase[] = [
  { title: 'NestJS 12 ESM (nodenext) on Express', app: 'nest12-esm', platform: 'express' },
  { title: 'NestJS 12 ESM (nodenext) on Fastify', app: 'nest12-esm', platform: 'fastify' },
  { title: 'NestJS 12 ESM (nodenext) on Express, Node 22', app: 'nest12-esm', platform: 'express', node: '22' },
  { title: 'Koa 3 ESM (bundler resolution)', app: 'koa3-esm' },
  { title: 'NestJS 11 CJS (nodenext) on Express', app: 'nest11-cjs', platform: 'express' },
  { title: 'NestJS 11 CJS (nodenext) on Fastify', app: 'nest11-cjs', platform: 'fastify' },
  { title: 'NestJS 10 CJS (node10) on Express', app: 'nest10-cjs', platform: 'express' },
  { title: 'NestJS 10 CJS (node10) on Fastify', app: 'nest10-cjs', platform: 'fastify' },
  { title: 'Koa 2 CJS (node10)', app: 'koa2-cjs' },
];

/** CONSUMERS_ONLY=koa3-esm,nest12-esm runs those apps only (while working on one of them). */
const ONLY = process.env['CONSUMERS_ONLY']?.split(',').map((name) => name.trim());
const CASES = ONLY ? ALL_CASES.filter((c) => ONLY.includes(c.app)) : ALL_CASES;
if (CASES.length === 0) throw new Error(`CONSUMERS_ONLY=${process.env['CONSUMERS_ONLY']} names no app of ${[...new Set(ALL_CASES.map((c) => c.app))].join(', ')}`);

/**
 * DynamoDB calls per request, by operation, as the README's cost table states
 * them. GET /health never touches the session: 0 calls, with or without a cookie.
 * The apps' tables are new, so they have the split layout, the default: a read is one Query.
 */
const EXPECTED_CALLS: Record<string, Record<string, number>> = {
  'GET /health': {},
  'POST /login': { UpdateItem: 1 },
  'GET /health (logged in)': {},
  'POST /cart': { Query: 1, UpdateItem: 1 },
  'POST /email': { Query: 1, UpdateItem: 1 },
  'GET /me': { Query: 1 },
  'POST /logout': { Query: 1, DeleteItem: 1 },
  'GET /me (old cookie)': { Query: 1 },
};

const timings: string[] = [];
const warnings = new Set<string>();
function timed<T>(label: string, task: () => Promise<T>): Promise<T> {
  const start = Date.now();
  return task().finally(() => timings.push(`${label}: ${((Date.now() - start) / 1000).toFixed(1)} s`));
}

/**
 * The environment for npm and the apps: without what `npm run` / `npx -c` set for the root
 * package (its prefix, its package fields, the command being run), and without jest's NODE_ENV.
 * Registry, cache and user-config settings (npm_config_*) pass through.
 */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_(package|lifecycle)_|^npm_config_(local_prefix|call|package)$|^INIT_CWD$|^NODE_ENV$/i.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

function run(command: string, args: readonly string[], cwd: string, env = childEnv()): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`\`${command} ${args.join(' ')}\` failed in ${cwd}:\n${stdout}\n${stderr}`, { cause: error }));
      else resolvePromise(stdout);
    });
  });
}

function limiter(concurrency: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    while (active >= concurrency) await new Promise<void>((wake) => waiting.push(wake));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

function tarball(): string {
  const value = process.env['DYNAMO_SESSION_TARBALL'];
  if (!value) throw new Error('DYNAMO_SESSION_TARBALL is not set: run `npm run test:consumers` (it packs the tarball first)');
  const path = resolve(ROOT, value);
  if (!existsSync(path)) throw new Error(`DYNAMO_SESSION_TARBALL=${value}: no such file (${path})`);
  return path;
}

/** Copies the app to the scratch dir, installs its lockfile and the tarball, and runs its own tsc. */
async function prepareApp(app: AppName, tgz: string): Promise<string> {
  const dir = join(SCRATCH, app);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'src']) {
    await cp(join(APPS_DIR, app, entry), join(dir, entry), { recursive: true });
  }
  await timed(`${app}: npm ci`, () => run('npm', ['ci', '--no-audit', '--no-fund'], dir));
  await timed(`${app}: npm install <tarball>`, () => run('npm', ['install', '--no-save', '--no-audit', '--no-fund', tgz], dir));
  await timed(`${app}: tsc -p .`, () => run(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], dir));
  return dir;
}

interface RunningApp {
  readonly url: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

/** Starts the built app on a free port and waits for the URL it prints. */
async function startApp(dir: string, nodeBinary: string, env: Record<string, string>): Promise<RunningApp> {
  const child: ChildProcess = spawn(nodeBinary, ['dist/main.js'], { cwd: dir, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // a hung app must not keep jest (and CI) waiting on its pipes
      reject(new Error(`no "listening on" line within 60 s:\n${output}`));
    }, 60_000);
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      const match = /listening on (http:\/\/\S+?)\/?$/m.exec(output);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]!);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the app exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
  return {
    url,
    output: () => output,
    stop: () =>
      new Promise<void>((resolveStop) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolveStop();
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolveStop();
        });
        child.kill('SIGTERM');
      }),
  };
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  /** The `sid` cookie this response set: its value, '' when it cleared it, undefined when it did not touch it. */
  readonly sid: string | undefined;
  readonly calls: Record<string, number>;
}

async function request(proxy: CountingProxy, url: string, method: 'GET' | 'POST', path: string, sid?: string, body?: object): Promise<Answer> {
  proxy.take();
  const headers: Record<string, string> = {};
  if (sid) headers['cookie'] = `sid=${sid}`;
  if (body) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, ...(body && { body: JSON.stringify(body) }) });
  const text = await res.text();
  // The commit runs before the response is sent, so every call of this request has reached the proxy.
  const calls = proxy.take();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: kept as text for the failure message
  }
  let cookie: string | undefined;
  for (const line of res.headers.getSetCookie()) {
    const match = /^sid=([^;]*)(.*)$/i.exec(line);
    if (match) cookie = /max-age=0|expires=thu, 01 jan 1970/i.test(match[2]!) ? '' : match[1]!;
  }
  return { status: res.status, body: parsed, sid: cookie, calls };
}

/** step-up refused → login → step-up → write → read → logout, counting the DynamoDB calls of each request. */
async function flow(proxy: CountingProxy, url: string): Promise<void> {
  const calls: Record<string, Record<string, number>> = {};
  const step = async (label: string, method: 'GET' | 'POST', path: string, sid?: string, body?: object): Promise<Answer> => {
    const answer = await request(proxy, url, method, path, sid, body);
    calls[label] = answer.calls;
    expect({ [label]: answer.status >= 200 && answer.status < 300 ? 'ok' : answer }).toEqual({ [label]: 'ok' });
    return answer;
  };

  // Step-up: without a login the route answers 401 before its handler, with no DynamoDB call (there is no cookie to read).
  const early = await request(proxy, url, 'POST', '/email', undefined, { email: 'a@example.com' });
  expect({ 'POST /email (no login)': [early.status, early.calls] }).toEqual({ 'POST /email (no login)': [401, {}] });

  const health = await step('GET /health', 'GET', '/health');
  expect(health.body).toEqual({ ok: true });
  expect(health.sid).toBeUndefined();

  const login = await step('POST /login', 'POST', '/login', undefined, { name: 'alice' });
  expect(login.body).toEqual({ user: { name: 'alice' } });
  const sid = login.sid;
  expect(sid).toMatch(/\S{20,}/);

  const loggedInHealth = await step('GET /health (logged in)', 'GET', '/health', sid);
  // The route never touches the session: 0 DynamoDB calls even with a valid cookie (a load would cost a Query).
  expect({ 'DynamoDB calls of GET /health (logged in)': loggedInHealth.calls }).toEqual({ 'DynamoDB calls of GET /health (logged in)': {} });
  expect(loggedInHealth.sid).toBeUndefined();

  const cart = await step('POST /cart', 'POST', '/cart', sid, { item: 'apple' });
  expect(cart.body).toEqual({ cart: ['apple'] });

  const email = await step('POST /email', 'POST', '/email', sid, { email: 'a@example.com' });
  expect(email.body).toEqual({ email: 'a@example.com' }); // logged in just now: requireFreshAuth(300) lets it through

  const me = await step('GET /me', 'GET', '/me', sid);
  expect(me.body).toEqual({ user: { name: 'alice' }, cart: ['apple'] });

  const logout = await step('POST /logout', 'POST', '/logout', sid);
  expect(logout.body).toEqual({ ok: true });
  expect(logout.sid).toBe(''); // the cookie is cleared

  const after = await step('GET /me (old cookie)', 'GET', '/me', sid);
  expect(after.body).toEqual({ user: null, cart: [] }); // the session is gone from DynamoDB

  expect(calls).toEqual(EXPECTED_CALLS);
}

const prepared = new Map<AppName, Promise<string>>();
let node22: Promise<string> | undefined;

beforeAll(async () => {
  const tgz = tarball();
  await mkdir(SCRATCH, { recursive: true });
  const slot = limiter(CONCURRENCY);
  // Every app installs in the background, in CASES order; each test waits for its own app only.
  for (const { app } of CASES) {
    if (prepared.has(app)) continue;
    const ready = slot(() => timed(`${app}: prepared`, () => prepareApp(app, tgz)));
    ready.catch(() => undefined); // reported by the tests that use it
    prepared.set(app, ready);
  }
  if (CASES.some((c) => c.node === '22')) {
    node22 = timed('node@22 binary', () => run('npx', ['-y', '-p', 'node@22', 'node', '-p', 'process.execPath'], SCRATCH)).then((out) => out.trim());
    node22.catch(() => undefined);
  }
});

afterAll(async () => {
  await Promise.allSettled([...prepared.values(), node22]);
  console.log(`consumer timings:\n  ${timings.join('\n  ')}\nwarnings the apps printed:\n  ${[...warnings].join('\n  ') || '(none)'}`);
});

describe.each(CASES)('$title', ({ app, platform, node }) => {
  it('passes its own tsc, then runs step-up refused → login → step-up → write → read → logout; GET /health costs 0 DynamoDB calls', async () => {
    const dir = await prepared.get(app)!;
    const nodeBinary = node === '22' ? await node22! : process.execPath;
    const proxy = new CountingProxy(new URL(endpoint()));
    const tableName = randomTableName(`consumer-${app}`);
    const proxyUrl = await proxy.listen();
    let running: RunningApp | undefined;
    try {
      running = await timed(`${app}${platform ? ` ${platform}` : ''}${node ? ` node ${node}` : ''}: start`, () =>
        startApp(dir, nodeBinary, {
          NODE_ENV: 'production',
          PORT: '0',
          DYNAMODB_ENDPOINT: proxyUrl,
          SESSION_SECRET: 'consumer-test-secret-0123456789abcdef0123456789',
          SESSION_TABLE: tableName,
          ...(platform && { PLATFORM: platform }),
        }),
      );
      const version = await run(nodeBinary, ['--version'], dir);
      if (node) expect(version).toMatch(new RegExp(`^v${node}\\.`));
      proxy.take(); // table creation at startup
      try {
        await flow(proxy, running.url);
      } catch (error) {
        throw new Error(`${(error as Error).message}\n\napp output (node ${version.trim()}):\n${running.output()}`, { cause: error });
      }
      // What a user would see at startup: no ExperimentalWarning (require(esm) of an ES-module-only
      // NestJS) and no error. Other warnings (the AWS SDK's Node version notice, Nest 10's
      // module-serialization notice) are listed in the summary rather than failing the run.
      const output = running.output();
      expect(output).not.toMatch(/ExperimentalWarning|ERR_REQUIRE|\bERROR\b/);
      for (const line of output.split('\n').filter((l) => /Warning|WARN/.test(l))) {
        const plain = stripVTControlCharacters(line).replace(/^\(node:\d+\) /, '').replace(/^\[Nest\] \d+ +- .*? WARN/, 'WARN').replace(/[\d.]+ms/g, 'N ms');
        warnings.add(`${app} on node ${version.trim()}: ${plain.trim()}`);
      }
    } finally {
      await running?.stop();
      await proxy.close();
      await dropTable(tableName);
    }
  });
});
