import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDbStore, SessionOptions, SessionStore } from '../../../lib';
import { keyOf } from '../../support/cookies';
import { CallLog, dropTable, LAYOUT, localClient, rawKey, scanItems, storeOnNewTable } from '../../support/dynamodb';
import { testManager } from '../../support/manager';
import { quietLogger } from '../../support/quiet-logger';

/**
 * The "DynamoDB calls per request" tables of README.md and docs/dynamodb.md, row by row: each row names a
 * request, and its cells list the calls it makes in order, in each layout. The tables are read from the
 * files themselves, so they cannot drift: every row must have a scenario here, every scenario a row, and
 * each scenario's calls, measured on DynamoDB Local through a real SessionManager, must be its row's cell
 * for the layout this project runs (spec/support/layout.ts).
 *
 * A cell lists operations in backticks, in order: `UpdateItem` ×3 is three of them, text in parentheses says
 * what an item is and is not counted, `none` is no call, `same` is the split layout's cell.
 */

const ROOT = join(__dirname, '..', '..', '..');
const TABLE_HEADER = '| request | split layout (default) | single layout |';
const OPERATIONS = new Set(['GetItem', 'Query', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'BatchGetItem', 'PutItem', 'TransactWriteItems']);

interface Row {
  readonly label: string;
  readonly split: readonly string[];
  readonly single: readonly string[];
}

/** The calls one cell lists, in order: `Op` or `Op` ×N, comma-separated; notes in parentheses are not counted. */
function callsOfCell(cell: string): string[] {
  const text = cell.replace(/\s*\([^()]*\)/g, '').trim();
  if (text === 'none') return [];
  return text.split(', ').flatMap((entry) => {
    const match = /^`(\w+)`(?: ×(\d+))?$/.exec(entry);
    if (!match) throw new Error(`"${cell}": "${entry}" is not \`Operation\` or \`Operation\` ×N (notes go in parentheses; "none" for no call)`);
    if (!OPERATIONS.has(match[1]!)) throw new Error(`"${cell}": \`${match[1]}\` is not a DynamoDB operation`);
    return Array.from({ length: Number(match[2] ?? 1) }, () => match[1]!);
  });
}

/** The rows of the calls table in a markdown file (the table under TABLE_HEADER). */
function callsTable(markdown: string): Row[] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(TABLE_HEADER);
  if (start < 0) throw new Error(`no calls table (a table headed "${TABLE_HEADER}")`);
  const rows: Row[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    if (cells.length !== 3) throw new Error(`a calls table row has ${cells.length} cells, not 3: ${line}`);
    const split = callsOfCell(cells[1]!);
    rows.push({ label: cells[0]!, split, single: cells[2] === 'same' ? split : callsOfCell(cells[2]!) });
  }
  return rows;
}

const FILES = ['README.md', 'docs/dynamodb.md'];
const TABLES = FILES.map((file) => ({ file, rows: callsTable(readFileSync(join(ROOT, file), 'utf8')) }));

/** Random base64url, which compression cannot shrink: over partThreshold (400 bytes), so each is a part of its own in the split layout. */
const opaque = (bytes: number): string => randomBytes(Math.ceil((bytes * 3) / 4)).toString('base64url').slice(0, bytes);
const LARGE = opaque(1000);
const LARGER = opaque(1200);

type Browser = ReturnType<typeof testManager>;
type Step = (t: Browser) => Promise<unknown>;
/** The measured request, after `before` (not measured) made the session it finds. */
interface Case {
  readonly before?: Step;
  readonly request: Step;
}
interface Scenario {
  readonly options?: Partial<SessionOptions>;
  /** Each case must make the row's calls. */
  readonly cases: readonly Case[];
}

const smallSession: Step = (t) => t.run((s) => void (s['n'] = 1));
const withLargeAttribute: Step = (t) => t.run((s) => void Object.assign(s, { n: 1, large: LARGE }));
const readOnly: Step = (t) => t.run((s) => void s['n']);
const set = (name: string, value: unknown): Step => (t) => t.run((s) => void (s[name] = value));
const remove = (name: string): Step => (t) => t.run((s) => void delete s[name]);
const LOCKING: Partial<SessionOptions> = { locking: 'all' };

/** A user of this browser's own, so that sessions other cases logged in never count (maxSessionsPerPrincipal, otherSessions()). */
const users = new WeakMap<Browser, string>();
const userOf = (t: Browser): string => {
  if (!users.has(t)) users.set(t, `user-${randomBytes(6).toString('hex')}`);
  return users.get(t)!;
};
const login: Step = (t) => t.run((s) => s.login(userOf(t)));

/** Before the measured login: another browser logged in as the same user a second earlier (same store and clock). */
const afterAnotherLogin = (options: Partial<SessionOptions>): Step => async (t) => {
  const other = testManager({ logger: quietLogger, ...options, now: () => t.clock.now }, t.store);
  await other.run((s) => s.login(userOf(t)));
  t.clock.now += 1000;
  await smallSession(t);
};

/** Another node's store on the same table: what it calls is not counted. */
let otherNode: SessionStore;

/** Keyed by the tables' first cell, exactly. */
const SCENARIOS: Record<string, Scenario> = {
  'never awaits the session': { cases: [{ before: smallSession, request: (t) => t.request().commit() }] },
  'no cookie (or a forged one), left empty': {
    cases: [{ request: (t) => t.run(() => undefined) }, { request: (t) => (t.setCookie('forged.signature'), readOnly(t)) }],
  },
  'no cookie, the new session gets small attributes': { cases: [{ request: smallSession }] },
  'no cookie, the new session gets a large attribute': { cases: [{ request: withLargeAttribute }] },
  'read-only, within `touchAfter`': { cases: [{ before: smallSession, request: readOnly }, { before: withLargeAttribute, request: readOnly }] },
  'ignored request, even one that changes the session': {
    options: { ignoreUris: ['/health'], ignoreHeaders: ['x-no-session'] },
    cases: [
      { before: withLargeAttribute, request: (t) => t.run((s) => void (s['n'] = 2), { path: '/health' }) },
      { before: withLargeAttribute, request: (t) => t.run((s) => void (s['large'] = LARGER), { headers: { 'x-no-session': '1' } }) },
    ],
  },
  'change small attributes, or a touch': {
    cases: [smallSession, withLargeAttribute].flatMap((before) => [
      { before, request: set('n', 2) },
      { before, request: remove('n') },
      { before, request: (t: Browser) => ((t.clock.now += 120_000), readOnly(t)) }, // past touchAfter (60 s): the deadline moves
      { before, request: (t: Browser) => t.run((s) => s.touch()) },
    ]),
  },
  'change a large attribute': { cases: [{ before: withLargeAttribute, request: set('large', LARGER) }] },
  'add a large attribute': { cases: [{ before: smallSession, request: set('large', LARGE) }] },
  'a small attribute grows large': { cases: [{ before: smallSession, request: set('n', LARGE) }] },
  'a large attribute shrinks, or is deleted': {
    cases: [{ before: withLargeAttribute, request: set('large', 'small') }, { before: withLargeAttribute, request: remove('large') }],
  },
  '`destroy()`': { cases: [{ before: smallSession, request: (t) => t.run((s) => s.destroy()) }] },
  '`destroy()`, with large attributes': { cases: [{ before: withLargeAttribute, request: (t) => t.run((s) => s.destroy()) }] },
  '`destroy()` of a session another request moved (`regenerate()`) meanwhile': {
    cases: [{
      before: smallSession,
      request: async (t) => {
        const logout = t.request();
        const s = await logout.load();
        // The same browser's other request, on another node (its calls are not this request's): a login.
        const other = testManager({ logger: quietLogger, now: () => t.clock.now }, otherNode);
        other.setCookie(t.cookie());
        await other.run((o) => o.login(userOf(t)));
        s.destroy();
        await logout.commit();
      },
    }],
  },
  '`regenerate()` or `login()`': {
    cases: [{ before: smallSession, request: (t) => t.run((s) => s.regenerate()) }, { before: smallSession, request: login }],
  },
  '`regenerate()` or `login()`, with large attributes': {
    cases: [
      { before: withLargeAttribute, request: (t) => t.run((s) => s.regenerate()) },
      { before: withLargeAttribute, request: login },
    ],
  },
  '`login()` under `maxSessionsPerPrincipal`, ending none': {
    options: { maxSessionsPerPrincipal: 2 },
    cases: [{ before: afterAnotherLogin({ maxSessionsPerPrincipal: 2 }), request: login }],
  },
  '`login()` under `maxSessionsPerPrincipal`, ending one': {
    options: { maxSessionsPerPrincipal: 1 },
    cases: [{ before: afterAnotherLogin({ maxSessionsPerPrincipal: 1 }), request: login }],
  },
  '`otherSessions()`': { cases: [{ before: login, request: (t) => t.run(async (s) => void (await s.otherSessions())) }] },
  'locking, read-only': { options: LOCKING, cases: [{ before: smallSession, request: readOnly }] },
  'locking, read-only, with large attributes': { options: LOCKING, cases: [{ before: withLargeAttribute, request: readOnly }] },
  'locking, change small attributes': { options: LOCKING, cases: [{ before: smallSession, request: set('n', 2) }] },
  'locking, change small attributes beside a large one': { options: LOCKING, cases: [{ before: withLargeAttribute, request: set('n', 2) }] },
  'locking, change a large attribute': { options: LOCKING, cases: [{ before: withLargeAttribute, request: set('large', LARGER) }] },
  'locking, the first large attribute (added, or grown from small)': {
    options: LOCKING,
    cases: [{ before: smallSession, request: set('large', LARGE) }, { before: smallSession, request: set('n', LARGE) }],
  },
  'locking, a small attribute grows large beside a large one': { options: LOCKING, cases: [{ before: withLargeAttribute, request: set('n', LARGE) }] },
  'locking, a large attribute shrinks, or is deleted': {
    options: LOCKING,
    cases: [{ before: withLargeAttribute, request: set('large', 'small') }, { before: withLargeAttribute, request: remove('large') }],
  },
  'locking, `destroy()`, with large attributes': { options: LOCKING, cases: [{ before: withLargeAttribute, request: (t) => t.run((s) => s.destroy()) }] },
};

/** A store on a new table of this project's layout; in the split layout with the library's own partThreshold (400 bytes). */
async function newStore(): Promise<{ store: DynamoDbStore; log: CallLog; tableName: string }> {
  return storeOnNewTable(LAYOUT === 'split' ? { partThreshold: 400 } : {});
}

describe('the DynamoDB calls tables of README.md and docs/dynamodb.md', () => {
  let store: SessionStore;
  let log: CallLog;
  let tableName: string;
  beforeAll(async () => {
    ({ store, log, tableName } = await newStore());
    otherNode = (await storeOnNewTable({ tableName, ...(LAYOUT === 'split' && { partThreshold: 400 }) })).store;
  });
  afterAll(() => dropTable(tableName));

  it.each(TABLES)('$file has a calls table, and a scenario here for each of its rows', ({ rows }) => {
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.map((r) => r.label).filter((label) => !(label in SCENARIOS))).toEqual([]);
  });

  it('every scenario is a row of one of the tables', () => {
    const labels = new Set(TABLES.flatMap((t) => t.rows.map((r) => r.label)));
    expect(Object.keys(SCENARIOS).filter((label) => !labels.has(label))).toEqual([]);
  });

  const rows = TABLES.flatMap(({ file, rows }) => rows.map((row) => ({ file, ...row })));
  it.each(rows)(`$file: $label`, async (row) => {
    const scenario = SCENARIOS[row.label];
    if (!scenario) return; // reported above
    for (const [i, { before, request }] of scenario.cases.entries()) {
      const t = testManager({ logger: quietLogger, ...scenario.options }, store);
      await before?.(t);
      log.clear();
      await request(t);
      expect({ case: i, calls: log.calls }).toEqual({ case: i, calls: row[LAYOUT] });
    }
  });
});

// The fold of the inline copies' drop into the lease release (split-layout.ts), under load and when either condition fails.
const describeSplit = LAYOUT === 'split' ? describe : describe.skip;

describeSplit('locking: dropping the inline copies and releasing the lease in one write', () => {
  let tableName: string;
  let store: DynamoDbStore;
  let log: CallLog;
  beforeAll(async () => {
    ({ store, log, tableName } = await newStore());
  });
  afterAll(() => dropTable(tableName));

  async function headOf(key: string): Promise<Record<string, unknown>> {
    return (await scanItems(tableName)).find((i) => i['sessionId'] === key && i['part'] === '#')!;
  }

  /** The write that drops inline copies and gives the lease back: it names both, and no part's record (the head's commit does). */
  function isFold(command: string, input: Record<string, unknown>): boolean {
    const names = Object.values((input['ExpressionAttributeNames'] ?? {}) as Record<string, string>);
    return command === 'UpdateItem' && /REMOVE/.test(String(input['UpdateExpression']))
      && ['lockOwner', 'data', 'parts'].every((n) => names.includes(n)) && !names.includes('partInfo');
  }

  /** Runs `interfere` once, just before the store sends the write that drops inline copies and gives the lease back. */
  function beforeFoldedWrite(interfere: () => Promise<void>): void {
    let done = false;
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (!done && isFold(String(context.commandName).replace(/Command$/, ''), args.input as Record<string, unknown>)) {
          done = true;
          await interfere();
        }
        return next(args);
      },
      { step: 'initialize', name: `interfere-${randomBytes(4).toString('hex')}` },
    );
  }

  it('9 concurrent locked increments of a value that moves between head and part each time store exactly 9, free the lease, and leave no inline copy', async () => {
    const t = testManager({ locking: 'all', logger: quietLogger }, store);
    await t.run((s) => void (s['c'] = { n: 0 }));
    const grown = (n: number) => ({ n, ...(n % 2 === 1 && { pad: 'x'.repeat(600) }) }); // odd: a part; even: inline
    log.clear();
    await Promise.all(Array.from({ length: 9 }, async () => {
      const ctx = t.request();
      const s = await ctx.load();
      s['c'] = grown((s['c'] as { n: number }).n + 1);
      await ctx.commit();
    }));
    // Each odd value moved the attribute into its part: its inline copy went with the lease, in one write.
    expect(log.inputs.filter((i) => isFold(i.command, i.input))).toHaveLength(5);
    await t.run((s) => expect(s['c']).toEqual(grown(9)));
    const head = await headOf(keyOf(t.cookie()!));
    expect(head['lockOwner']).toBeUndefined();
    expect(head['data']).not.toHaveProperty('c');
    expect(head['parts']).toHaveProperty('c');
  });

  it('a lease lost before the write (expired and taken over): the inline copy still goes, the new holder keeps its lease', async () => {
    const t = testManager({ locking: 'all', logger: quietLogger }, store);
    await smallSession(t);
    const key = keyOf(t.cookie()!);
    const raw = localClient();
    beforeFoldedWrite(async () => {
      await raw.send(new UpdateItemCommand({
        TableName: tableName, Key: rawKey(key), UpdateExpression: 'SET lockOwner = :o, lockExpires = :e',
        ExpressionAttributeValues: { ':o': { S: 'someone-else' }, ':e': { N: String(Date.now() + 60_000) } },
      }));
    });
    log.clear();
    await t.run((s) => void (s['n'] = LARGE));
    raw.destroy();
    // Lease, head, part, the refused fold, then the drop on its own; the lease is not ours to release.
    expect(log.calls).toEqual(['UpdateItem', 'UpdateItem', 'UpdateItem', 'UpdateItem', 'UpdateItem']);
    const head = await headOf(key);
    expect(head['lockOwner']).toBe('someone-else');
    expect(head['data']).not.toHaveProperty('n');
  });

  it('a claim made again meanwhile by an unlocked request: the lease is still released, the later value stands', async () => {
    const t = testManager({ locking: { uriPattern: 'POST /lock' }, logger: quietLogger }, store);
    await smallSession(t);
    const key = keyOf(t.cookie()!);
    beforeFoldedWrite(async () => {
      await t.run((s) => void (s['n'] = LARGER)); // GET /: not locked, claims `n` again
    });
    await t.run((s) => void (s['n'] = LARGE), { method: 'POST', path: '/lock' });
    const head = await headOf(key);
    expect(head['lockOwner']).toBeUndefined();
    expect(head['data']).not.toHaveProperty('n');
    await t.run((s) => expect(s['n']).toBe(LARGER));
  });
});
