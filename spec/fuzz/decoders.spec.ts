/**
 * Fuzzing the decoders: whatever sits in a stored item (random bytes, JSON-ish
 * text, values with the compression markers 1–5, decompression bombs) and
 * whatever a client sends as its id (cookie or idHeader: random text, signed
 * ids with one character flipped, huge values), loading a session ends with
 * a session or a typed SessionError: never another exception, never a hang,
 * never megabytes inflated, never a lease left behind. And every value the
 * serializer accepts reads back as it was written.
 *
 * On failure jest prints the seed, the path and the shrunk input; replay with
 * FC_SEED=<seed> FC_PATH=<path>. FC_RUNS raises the run count.
 */
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { parse as parseCookie } from 'cookie';
import fc from 'fast-check';
import { MemoryStore, SessionError, SessionManager } from '../../lib';
import type { Session, SessionData, SessionOptions, StoredValue } from '../../lib';
import { generateSessionId, storageKeyOf } from '../../lib/core/ids';
import { IdSigner } from '../../lib/core/signer';
import { FaultyStore } from '../support/faulty-store';
import { quietLogger } from '../support/quiet-logger';
import { SECRET } from '../support/secrets';

const NOW = Date.UTC(2030, 0, 1);
const RUNS = Number(process.env['FC_RUNS']) > 0 ? Number(process.env['FC_RUNS']) : undefined;
const SEED = Number.isInteger(Number(process.env['FC_SEED'])) && process.env['FC_SEED'] ? Number(process.env['FC_SEED']) : undefined;

function parameters<T>(defaultRuns: number): fc.Parameters<T> {
  return {
    numRuns: RUNS ?? defaultRuns,
    ...(SEED !== undefined && { seed: SEED }),
    ...(process.env['FC_PATH'] && { path: process.env['FC_PATH'] }),
    includeErrorInReport: true,
  };
}

/** A jest timeout that grows with FC_RUNS. */
const TIMEOUT = Math.max(120_000, (RUNS ?? 0) * 60);

/** A hang is a failure too: every load and commit gets this long. */
const STEP_TIMEOUT_MS = 5000;

async function bounded<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HANG: ${what} did not settle within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `step`; a rejection must be a SessionError (returned), anything else fails the property. */
async function typed<T>(what: string, step: () => Promise<T>): Promise<{ value: T } | { error: SessionError }> {
  try {
    return { value: await bounded(what, step()) };
  } catch (error) {
    if (error instanceof SessionError) return { error };
    const e = error as Error;
    throw new Error(`${what}: a non-SessionError escaped: ${e?.name}: ${e?.message}`, { cause: error });
  }
}

function newManager(store: MemoryStore | FaultyStore, options: Partial<SessionOptions> = {}): SessionManager {
  return new SessionManager({ store, secrets: [SECRET], now: () => NOW, logger: quietLogger, lockTimeout: 1000, ...options });
}

const signer = new IdSigner([SECRET]);

/** Puts an item with the given data straight into the store, as another writer (or an attacker with table access) could. */
async function plant(store: MemoryStore, data: Record<string, StoredValue>): Promise<{ cookie: string; key: string }> {
  const id = generateSessionId();
  const key = storageKeyOf(id);
  await store.create(key, { data, createdAt: NOW, lastAccessedAt: NOW, expiresAt: Math.floor(NOW / 1000) + 1800 });
  return { cookie: signer.sign(id), key };
}

function request(manager: SessionManager, headers: Record<string, string | string[]>) {
  return manager.createContext({ method: 'POST', path: '/fuzz', headers, secure: false });
}

const FORBIDDEN = ['__proto__', 'constructor', 'prototype'];

/** Own keys that would reach a prototype, at any depth of a loaded value. */
function forbiddenKeyPath(value: unknown, path: string, depth = 0): string | undefined {
  if (value === null || typeof value !== 'object' || depth > 200) return undefined;
  for (const key of Reflect.ownKeys(value)) {
    if (typeof key === 'string' && FORBIDDEN.includes(key) && !Array.isArray(value)) return `${path}.${key}`;
    const found = forbiddenKeyPath((value as Record<string | symbol, unknown>)[key], `${path}.${String(key)}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}

// ---------------------------------------------------------------- stored values

/** 16 MB of text as a JSON string, compressed: tens of KB that inflate to megabytes on every read. */
const BOMB_TEXT = `"${'a'.repeat(16 * 1024 * 1024)}"`;
let bombs: Uint8Array[] = [];

function withMarker(marker: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.byteLength + 1);
  out[0] = marker;
  out.set(body, 1);
  return out;
}

const jsonishText: fc.Arbitrary<string> = fc.oneof(
  fc.json({ maxDepth: 4 }),
  // Truncated or spliced JSON: what a torn or foreign write leaves.
  fc.tuple(fc.json({ maxDepth: 3 }), fc.nat(), fc.string({ maxLength: 4 })).map(([t, i, s]) => t.slice(0, i % (t.length + 1)) + s),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.constantFrom(
    '{"__proto__":{"polluted":true}}', '{"a":{"constructor":{"prototype":{"polluted":true}}}}', '{"\\u005f_proto__":{"polluted":true}}',
    '[1,,3]', 'NaN', '1e400', '"\\ud800"', '', ' ', 'null', 'undefined', '{"toString":1,"valueOf":2,"hasOwnProperty":3}',
  ),
  // Deep nesting: a recursive reviver or re-encoder would overflow the stack.
  fc.integer({ min: 50, max: 20_000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`),
  fc.integer({ min: 50, max: 5_000 }).map((d) => `${'{"constructor":'.repeat(d)}1${'}'.repeat(d)}`),
);

const compressedArb: fc.Arbitrary<Uint8Array> = fc.tuple(jsonishText, fc.constantFrom(1, 3, 4, 5), fc.boolean(), fc.nat()).map(([text, marker, whole, cut]) => {
  const bytes = Buffer.from(text, 'utf8');
  const body = marker === 1 || marker === 3 ? gzipSync(bytes) : brotliCompressSync(bytes);
  // Valid compressed data, or cut short.
  return withMarker(marker, whole ? body : body.subarray(0, cut % (body.byteLength + 1)));
});

const storedValueArb: fc.Arbitrary<StoredValue> = fc.oneof(
  { weight: 3, arbitrary: jsonishText },
  // Random bytes: any first byte, so both unknown markers and 1–5 with garbage behind.
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 64 })).map(([m, b]) => withMarker(m, b)) },
  { weight: 2, arbitrary: fc.tuple(jsonishText).map(([t]) => withMarker(2, Buffer.from(t, 'utf8'))) },
  { weight: 3, arbitrary: compressedArb },
  { weight: 1, arbitrary: fc.nat().map((i) => bombs[i % bombs.length]!) },
);

const attributeNameArb = fc.oneof(
  fc.constantFrom('a', 'cart', '__proto__', 'constructor', 'prototype', 'id', 'isNew', 'destroy', 'toString', ''),
  fc.string({ maxLength: 8 }),
);

interface PlantedItem {
  readonly data: Record<string, StoredValue>;
}

const itemArb: fc.Arbitrary<PlantedItem> = fc.array(fc.tuple(attributeNameArb, storedValueArb), { minLength: 1, maxLength: 4 }).map((entries) => {
  // A null-prototype record, as MemoryStore and the DynamoDB codec build them: "__proto__" is a plain key here.
  const data: Record<string, StoredValue> = Object.create(null) as Record<string, StoredValue>;
  for (const [name, value] of entries) data[name] = value;
  // Printed short in a counterexample: a bomb is 16 KB of bytes.
  return { data, [fc.toStringMethod]: () => describeData(data) };
});

function describeData(data: Record<string, StoredValue>): string {
  const describe = (v: StoredValue): string => typeof v === 'string'
    ? JSON.stringify(v.slice(0, 60)) + (v.length > 60 ? `…(${v.length} chars)` : '')
    : `bytes[${v.byteLength}] ${Buffer.from(v.subarray(0, 16)).toString('hex')}${v.byteLength > 16 ? '…' : ''}`;
  return `{${Object.entries(data).map(([k, v]) => `${JSON.stringify(k)}: ${describe(v)}`).join(', ')}}`;
}

// ---------------------------------------------------------------- ids from the client

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** How to mangle a valid signed id: flip one character to another, or add, cut, wrap. */
type Mangle = { kind: 'flip'; at: number; shift: number } | { kind: 'append' | 'prepend'; text: string } | { kind: 'cut'; at: number } | { kind: 'random'; text: string } | { kind: 'huge'; size: number; char: string };

const mangleArb: fc.Arbitrary<Mangle> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), shift: fc.nat(62) }) },
  fc.record({ kind: fc.constantFrom('append' as const, 'prepend' as const), text: fc.string({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('random' as const), text: fc.oneof(fc.string({ unit: 'binary', maxLength: 120 }), fc.string({ unit: fc.constantFrom(...`${BASE64URL}.`), minLength: 87, maxLength: 87 })) }) },
  fc.record({ kind: fc.constant('huge' as const), size: fc.integer({ min: 4096, max: 2_000_000 }), char: fc.constantFrom('A', '.', '%', ';', 'é') }),
);

function mangle(valid: string, m: Mangle): string {
  switch (m.kind) {
    case 'flip': {
      const at = m.at % valid.length;
      const index = BASE64URL.indexOf(valid[at]!);
      // Always another character: "flipping" to the same one would not tamper at all.
      const replacement = index < 0 ? 'A' : BASE64URL[(index + 1 + m.shift) % 64]!;
      return valid.slice(0, at) + replacement + valid.slice(at + 1);
    }
    case 'append':
      return valid + m.text;
    case 'prepend':
      return m.text + valid;
    case 'cut':
      return valid.slice(0, m.at % valid.length);
    case 'random':
      return m.text;
    case 'huge':
      return m.char.repeat(m.size);
  }
}

// ---------------------------------------------------------------- properties

describe('decoder fuzzing', () => {
  beforeAll(() => {
    const bytes = Buffer.from(BOMB_TEXT, 'utf8');
    bombs = [withMarker(1, gzipSync(bytes)), withMarker(3, gzipSync(bytes)), withMarker(4, brotliCompressSync(bytes)), withMarker(5, brotliCompressSync(bytes))];
  });

  it('stored attribute values: a session or a typed SessionError, bounded in time and memory, leases released', async () => {
    await fc.assert(
      fc.asyncProperty(itemArb, fc.boolean(), fc.constantFrom(4096, 16), async ({ data }, locking, compressThreshold) => {
        const store = new MemoryStore();
        const what = `load of ${describeData(data)} (locking ${locking})`;
        const { cookie, key } = await plant(store, data);
        // The documented default bound on a session's decoded size.
        const maxSessionBytes = 1024 * 1024;
        const manager = newManager(store, { locking: locking ? 'all' : 'none', compressThreshold });
        const context = request(manager, { cookie: `sid=${cookie}` });
        const loaded = await typed(what, () => context.load());
        if ('value' in loaded) {
          const session: Session = loaded.value;
          const attrs = Object.entries(session);
          const bad = forbiddenKeyPath(Object.fromEntries(attrs), 'session');
          if (bad) throw new Error(`${what}: a prototype key survived the load at ${bad}`);
          // Inflation is bounded: text values are as stored, binary ones may inflate to a small multiple of
          // maxSessionBytes in all (the library allows some slack for concurrent writers), never to megabytes more.
          let stringBytes = 0;
          for (const value of Object.values(data)) if (typeof value === 'string') stringBytes += value.length;
          const loadedChars = attrs.reduce((n, [, v]) => n + approximateSize(v), 0);
          if (loadedChars > 4 * maxSessionBytes + 6 * stringBytes) throw new Error(`${what}: the load inflated ${loadedChars} characters (maxSessionBytes ${maxSessionBytes})`);
        }
        // The commit after it (nothing changed) writes nothing or touches; it never crashes either.
        await typed(`commit after ${what}`, () => context.commit());
        if (({} as Record<string, unknown>)['polluted'] !== undefined) throw new Error(`${what}: Object.prototype was polluted`);
        const item = await store.get(key);
        if (item?.lockOwner !== undefined) throw new Error(`${what}: the lease is still held after the request (${loaded && 'error' in loaded ? loaded.error.name : 'loaded'})`);
      }),
      parameters(300),
    );
  }, TIMEOUT);

  it('cookie values: a fresh session for anything but the exact signed id, zero store calls, no hang', async () => {
    await fc.assert(
      fc.asyncProperty(mangleArb, fc.constantFrom('value', 'duplicate', 'whole-header'), async (m, placement) => {
        const inner = new MemoryStore();
        const { cookie: valid } = await plant(inner, { a: '1' });
        const store = new FaultyStore(inner);
        const manager = newManager(store);
        const value = mangle(valid, m);
        const header = placement === 'value' ? `sid=${value}` : placement === 'duplicate' ? `sid=${value}; sid=${valid}` : value;
        const what = `cookie header ${JSON.stringify(header.slice(0, 120))}${header.length > 120 ? `…(${header.length})` : ''}`;
        const context = request(manager, { cookie: header });
        store.takeCalls();
        const loaded = await typed(what, () => context.load());
        if (!('value' in loaded)) throw new Error(`${what}: load failed with ${loaded.error.name}: ${loaded.error.message}`);
        const calls = store.takeCalls().length;
        // What the cookie grammar makes of the header (whitespace around a value is not part of it, RFC 6265).
        const exact = parseCookie(header)['sid'] === valid;
        if (!exact) {
          if (!loaded.value.isNew || Object.keys(loaded.value).length > 0) throw new Error(`${what}: a mangled id loaded the stored session`);
          if (loaded.value.id === valid.split('.')[0]) throw new Error(`${what}: the fresh session adopted the presented id`);
          if (calls > 0) throw new Error(`${what}: a badly signed id cost ${calls} store call(s)`);
        }
        const result = await typed(`commit after ${what}`, () => context.commit());
        if ('value' in result && result.value.headers.some(([name]) => name === 'Set-Cookie')) throw new Error(`${what}: an unchanged session set a cookie`);
      }),
      parameters(400),
    );
  }, TIMEOUT);

  it('idHeader values: a fresh session for anything but the exact signed id, zero store calls, no hang', async () => {
    await fc.assert(
      fc.asyncProperty(mangleArb, fc.boolean(), async (m, asArray) => {
        const inner = new MemoryStore();
        const { cookie: valid } = await plant(inner, { a: '1' });
        const store = new FaultyStore(inner);
        const manager = newManager(store, { idHeader: 'X-Session-Id' });
        const value = mangle(valid, m);
        const what = `x-session-id ${JSON.stringify(value.slice(0, 120))}${value.length > 120 ? `…(${value.length})` : ''}${asArray ? ' (repeated header)' : ''}`;
        const context = request(manager, { 'x-session-id': asArray ? [value, valid] : value });
        store.takeCalls();
        const loaded = await typed(what, () => context.load());
        if (!('value' in loaded)) throw new Error(`${what}: load failed with ${loaded.error.name}: ${loaded.error.message}`);
        if (value !== valid) {
          if (!loaded.value.isNew || Object.keys(loaded.value).length > 0) throw new Error(`${what}: a mangled id loaded the stored session`);
          const calls = store.takeCalls().length;
          if (calls > 0) throw new Error(`${what}: a badly signed id cost ${calls} store call(s)`);
        }
        await typed(`commit after ${what}`, () => context.commit());
      }),
      parameters(300),
    );
  }, TIMEOUT);

  it('values the serializer accepts read back exactly; everything else is refused with a typed error', async () => {
    const odd = fc.oneof(
      fc.anything({
        maxDepth: 3, withSparseArray: true, withBoxedValues: true, withNullPrototype: true, withObjectString: true,
        withMap: true, withSet: true, withBigInt: true, withDate: true, withTypedArray: true,
      }),
      // Arrays JSON would silently change: holes, extra properties, symbol keys.
      fc.constantFrom<() => unknown>(
        () => [1, , 3], // eslint-disable-line no-sparse-arrays
        () => Object.assign([1, 2], { extra: 'x' }),
        () => ({ [Symbol('s')]: 1, a: 1 }),
        () => [Object.assign([0], { k: 1 })],
        () => new Array<unknown>(3),
      ).map((make) => make()),
    );
    await fc.assert(
      fc.asyncProperty(odd, async (value) => {
        const store = new MemoryStore();
        const manager = newManager(store);
        const first = request(manager, {});
        const what = `storing ${fc.stringify(value).slice(0, 200)}`;
        const session = await first.load();
        session['v'] = value;
        const committed = await typed(what, () => first.commit());
        if (!('value' in committed)) return; // refused with a typed error: fine
        const cookie = committed.value.headers.find(([name]) => name === 'Set-Cookie')?.[1];
        const signed = cookie && /^sid=([^;]*)/.exec(cookie)?.[1];
        if (value === undefined) {
          // Setting an attribute to undefined removes it: an empty new session is not stored.
          if (signed) throw new Error(`${what}: an empty session was stored`);
          return;
        }
        if (!signed) throw new Error(`${what}: stored, but no cookie was issued`);
        const second = request(manager, { cookie: `sid=${signed}` });
        const loaded = (await second.load()) as SessionData;
        const difference = jsonDifference(value, loaded['v'], 'v');
        if (difference) throw new Error(`${what}: accepted, but read back changed: ${difference}`);
      }),
      parameters(400),
    );
  }, TIMEOUT);
});

/** Characters a loaded value holds, roughly (strings, keys, one per node); iterative, as values may nest deeply. */
function approximateSize(value: unknown): number {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    size += 1;
    if (typeof v === 'string') size += v.length;
    else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        size += k.length;
        stack.push(child);
      }
    }
  }
  return size;
}

/**
 * Where a value read back differs from the one stored, as JSON semantics
 * define sameness (an undefined property is absent either way; -0 and 0 are
 * the same JSON number), or undefined when they agree.
 */
function jsonDifference(stored: unknown, loaded: unknown, path: string): string | undefined {
  if (typeof stored === 'number' && typeof loaded === 'number') return stored === loaded ? undefined : `${path}: ${stored} became ${loaded}`;
  if (stored === null || typeof stored !== 'object') return Object.is(stored, loaded) ? undefined : `${path}: ${String(stored)} became ${String(loaded)}`;
  if (loaded === null || typeof loaded !== 'object') return `${path}: an object became ${String(loaded)}`;
  if (Array.isArray(stored) !== Array.isArray(loaded)) return `${path}: array-ness changed`;
  if (Array.isArray(stored)) {
    const arr = loaded as unknown[];
    if (stored.length !== arr.length) return `${path}: length ${stored.length} became ${arr.length}`;
    for (let i = 0; i < stored.length; i++) {
      if (!(i in stored)) return `${path}[${i}]: a hole became ${JSON.stringify(arr[i])}`;
      const d = jsonDifference(stored[i], arr[i], `${path}[${i}]`);
      if (d) return d;
    }
  }
  const storedKeys = Reflect.ownKeys(stored).filter((k) => !(Array.isArray(stored) && (k === 'length' || /^\d+$/.test(String(k)))));
  for (const key of storedKeys) {
    const v = (stored as Record<string | symbol, unknown>)[key];
    if (v === undefined) continue;
    if (!Object.prototype.propertyIsEnumerable.call(stored, key)) continue;
    if (typeof key === 'symbol') return `${path}: symbol key ${String(key)} vanished`;
    if (Array.isArray(stored)) return `${path}: array property ${key} vanished`;
    const d = jsonDifference(v, (loaded as Record<string, unknown>)[key], `${path}.${key}`);
    if (d) return d;
  }
  if (!Array.isArray(loaded)) {
    for (const key of Object.keys(loaded)) {
      if ((stored as Record<string, unknown>)[key] === undefined) return `${path}.${key}: appeared`;
    }
  }
  return undefined;
}
