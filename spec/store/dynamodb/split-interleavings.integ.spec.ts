import { randomBytes } from 'node:crypto';
import { DynamoDbStore, DynamoDbStoreOptions, SessionStoreUnavailableError } from '../../../lib';
import { dropTable, LAYOUT, randomTableName, scanItems } from '../../support/dynamodb';
import { CallHook, CallInput, hookedClient, lostAnswer } from '../../support/hooked-client';
import { testManager } from '../../support/manager';
import { quietLogger } from '../../support/quiet-logger';

/**
 * The split layout's rare paths, found by an independent review: a part write that is slow, lost or
 * refused while other requests run. A middleware on the store's own SDK client delays or fails chosen
 * calls; DynamoDB Local applies everything else. They run once, in the split project.
 */
const describeSplit = LAYOUT === 'split' ? describe : describe.skip;

type Input = CallInput;
const hooks: { current: CallHook | undefined } = { current: undefined };
/** The hook every client made here runs its calls through. */
let hook: CallHook | undefined;
hooks.current = (command, input, next) => (hook ? hook(command, input, next) : next());
afterEach(() => (hook = undefined));

const tables: string[] = [];
afterAll(async () => {
  await Promise.all(tables.map(dropTable));
});

async function splitStore(options: DynamoDbStoreOptions = {}): Promise<{ store: DynamoDbStore; tableName: string }> {
  const client = hookedClient(hooks);
  const tableName = randomTableName('split-race');
  tables.push(tableName);
  const store = new DynamoDbStore({ tableName, client, layout: 'split', partThreshold: 64, ...options }, quietLogger);
  await store.ready();
  return { store, tableName };
}

const opaque = (bytes: number): string => randomBytes(bytes).toString('base64url').slice(0, bytes);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The write of attribute `name`'s own item, with its content (not its deadline's extension, nor a fence). */
const isPartWrite = (command: string, input: Input, name: string) =>
  command === 'UpdateItem' && input.Key?.part === `a#${name}` && Object.values(input.ExpressionAttributeNames ?? {}).includes('value');
const isHeadCommit = (command: string, input: Input) => command === 'UpdateItem' && input.Key?.part === '#' && /\bADD\b/.test(input.UpdateExpression ?? '');
const throttled = () => Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } });

/** The next write of attribute `name`'s own item takes 700 ms to reach DynamoDB. */
function slowFirstPartWrite(name: string): void {
  let slow = true;
  hook = async (command, input, next) => {
    if (slow && isPartWrite(command, input, name)) {
      slow = false;
      await sleep(700);
    }
    return next();
  };
}

async function readAll(t: ReturnType<typeof testManager>): Promise<Record<string, unknown>> {
  const ctx = t.request();
  const session = { ...(await ctx.load()) };
  await ctx.commit();
  return session;
}

describeSplit('split layout: part writes racing other requests', () => {
  it('regenerate() carries a part write acknowledged while it ran, even one still landing when it looked', async () => {
    const { store } = await splitStore();
    const t = testManager({}, store);
    const before = opaque(200);
    const ajaxValue = opaque(200);
    await t.run((s) => void Object.assign(s, { x: before, a: 1 }));
    const login = t.request();
    const s = await login.load();
    slowFirstPartWrite('x');
    const ajax = t.run((a) => void (a['x'] = ajaxValue));
    await sleep(250); // the AJAX head claim has landed, its part write not yet
    s.regenerate();
    s['user'] = 'ada';
    const { headers } = await login.commit();
    await ajax; // acknowledged
    t.setCookie(/^sid=([^;]*)/.exec(headers.find(([name]) => name === 'Set-Cookie')![1])![1]);
    expect((await readAll(t))['x']).toBe(ajaxValue);
  });

  it('regenerate() after a load that gave up waiting for a part write still carries that write once it is acknowledged', async () => {
    const { store } = await splitStore();
    const t = testManager({}, store);
    await t.run((s) => void Object.assign(s, { x: opaque(200), a: 1 }));
    slowFirstPartWrite('x'); // 700 ms: longer than a load waits (250 ms), shorter than regenerate() does
    const ajaxValue = opaque(200);
    const ajax = t.run((a) => void (a['x'] = ajaxValue));
    await sleep(150); // the AJAX head claim has landed
    const login = t.request();
    const s = await login.load(); // gives up waiting: sees the value from before, and says so
    await ajax; // acknowledged
    s.regenerate();
    const { headers } = await login.commit();
    t.setCookie(/^sid=([^;]*)/.exec(headers.find(([name]) => name === 'Set-Cookie')![1])![1]);
    expect((await readAll(t))['x']).toBe(ajaxValue);
  });

  it('a removed attribute stays removed when content of an earlier stint as a part turns up and a later write fails', async () => {
    const { store, tableName } = await splitStore();
    const t = testManager({}, store);
    await t.run((s) => void (s['x'] = opaque(200)));
    const remover = t.request();
    delete (await remover.load())['x']; // loaded before the other write's claim, so it does not wait for it
    slowFirstPartWrite('x');
    const late = t.run((s) => void (s['x'] = opaque(200)));
    await sleep(250);
    await remover.commit(); // acknowledged while the other part write is still in flight
    await late; // its content lands after the removal: left over, named by no head
    hook = undefined;
    expect((await scanItems(tableName)).map((i) => i['part']).sort()).toEqual(['#', 'a#x']);
    expect((await readAll(t))['x']).toBeUndefined();
    // The re-add's part write and its read-back both fail: its claim stays, pointing at content that never lands.
    const partCall = (command: string, input: Input) => isPartWrite(command, input, 'x') || (command === 'GetItem' && input.Key?.part === 'a#x');
    hook = async (command, input, next) => (partCall(command, input) ? Promise.reject(lostAnswer()) : next());
    await expect(t.run((s) => void (s['x'] = opaque(200)))).rejects.toThrow(SessionStoreUnavailableError);
    hook = undefined;
    expect((await readAll(t))['x']).toBeUndefined();
  });

  it("a part write that did not land is taken back, so 'reject' guards work at once afterwards", async () => {
    const { store } = await splitStore();
    const t = testManager({ onConflict: 'reject' }, store);
    const kept = opaque(200);
    await t.run((s) => void (s['x'] = kept));
    hook = async (command, input, next) => (isPartWrite(command, input, 'x') ? Promise.reject(lostAnswer()) : next());
    await expect(t.run((s) => void (s['x'] = opaque(200)))).rejects.toThrow(SessionStoreUnavailableError);
    hook = undefined;
    expect((await readAll(t))['x']).toBe(kept);
    const next = opaque(200);
    const started = Date.now();
    await t.run((s) => void (s['x'] = next));
    expect(Date.now() - started).toBeLessThan(1000); // no wait for a claim that is known not to land
    expect((await readAll(t))['x']).toBe(next);
  });

  it('a head write whose answer was lost, then a failed part write: the acknowledged value stays', async () => {
    const { store } = await splitStore();
    const t = testManager({}, store);
    const acknowledged = opaque(200);
    await t.run((s) => void (s['x'] = acknowledged));
    let once = true;
    hook = async (command, input, next) => {
      if (once && isHeadCommit(command, input)) {
        once = false;
        await next();
        throw lostAnswer();
      }
      if (isPartWrite(command, input, 'x')) throw throttled();
      return next();
    };
    await expect(t.run((s) => void (s['x'] = opaque(200)))).rejects.toThrow(SessionStoreUnavailableError);
    hook = undefined;
    expect((await readAll(t))['x']).toBe(acknowledged);
  });

  it('a head whose deadline would pass its parts waits for them to be extended; if that fails, nothing is written', async () => {
    const { store, tableName } = await splitStore();
    const t = testManager({}, store);
    await t.run((s) => void (s['x'] = opaque(200)));
    const expiries = async () => {
      const items = await scanItems(tableName);
      return { head: Number(items.find((i) => i['part'] === '#')!['expiresAt']), part: Number(items.find((i) => i['part'] === 'a#x')!['expiresAt']) };
    };
    const first = await expiries();
    hook = async (command, input, next) => (command === 'UpdateItem' && input.UpdateExpression === 'SET #e = :e' ? Promise.reject(throttled()) : next());
    await expect(t.run((s) => s.setMaxInactiveInterval(30 * 86400))).rejects.toThrow(SessionStoreUnavailableError);
    expect(await expiries()).toEqual(first);
    hook = undefined;
    await t.run((s) => s.setMaxInactiveInterval(30 * 86400));
    const extended = await expiries();
    expect(extended.head).toBeGreaterThan(first.head + 29 * 86400);
    expect(extended.part).toBeGreaterThanOrEqual(extended.head);
  });

  it('a stale inline copy is never read once the part has landed, even when a later write of the part fails', async () => {
    const { store } = await splitStore();
    const t = testManager({}, store);
    const acknowledged = opaque(200);
    await t.run((s) => void (s['x'] = 'short'));
    // Moving x into its part; dropping the inline copy afterwards fails (it is only upkeep).
    hook = async (command, input, next) => (command === 'UpdateItem' && input.Key?.part === '#' && /^REMOVE/.test(input.UpdateExpression ?? '') ? Promise.reject(throttled()) : next());
    await t.run((s) => void (s['x'] = acknowledged));
    hook = async (command, input, next) => (isPartWrite(command, input, 'x') ? Promise.reject(lostAnswer()) : next());
    await expect(t.run((s) => void (s['x'] = opaque(200)))).rejects.toThrow(SessionStoreUnavailableError);
    hook = undefined;
    expect((await readAll(t))['x']).toBe(acknowledged);
  });

  it('sizes the head with the old inline values of attributes moving into parts (413 before any write, not a refused write)', async () => {
    const { store } = await splitStore({ partThreshold: 64 * 1024 });
    const t = testManager({ maxSessionBytes: 4 * 1024 * 1024 }, store);
    await t.run((s) => {
      for (let i = 0; i < 6; i++) s[`m${i}`] = opaque(60 * 1024);
    });
    const refused = await t.run((s) => {
      for (let i = 0; i < 6; i++) {
        s[`m${i}`] = opaque(100 * 1024); // each moves into its own item; the head keeps its 60 KB until then
        s[`n${i}`] = opaque(50 * 1024);
      }
    }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ name: 'SessionTooLargeError', status: 413 });
    expect((refused as Error).message).toMatch(/small attributes take \d+ bytes together/);
  });
});

/**
 * Fencing (docs/guarantees.md, "Writes whose answer was lost"): a node that gives a part write up as its
 * writer's gone is quick about it here (short deadlines: it judges a claim given up after about 2 s), while
 * the writer is slow but alive. No clock may decide what is kept: the late write must be refused, never
 * acknowledged and then hidden.
 */
describeSplit('split layout: a part write given up by a reader', () => {
  /** A second node on the same table, whose short deadlines make it give up on claims after about 2 s. */
  async function impatientNode(tableName: string, options: Parameters<typeof testManager>[0] = {}) {
    const store = new DynamoDbStore({ tableName, client: hookedClient(hooks), layout: 'split', partThreshold: 64, writeTimeout: 200, readTimeout: 300 }, quietLogger);
    await store.ready();
    return testManager(options, store);
  }
  /** The next write of `name`'s content reaches DynamoDB only after `ms`. */
  function pausedPartWrite(name: string, ms: number): void {
    let first = true;
    hook = async (command, input, next) => {
      if (first && isPartWrite(command, input, name)) {
        first = false;
        await sleep(ms);
      }
      return next();
    };
  }

  it('the writer of a part write that lands after a reader gave it up answers 503, and the value from before stays', async () => {
    const { store, tableName } = await splitStore();
    const writer = testManager({}, store);
    await writer.run((s) => void (s['x'] = 'small'));
    const reader = await impatientNode(tableName);
    reader.setCookie(writer.cookie());
    pausedPartWrite('x', 2500);
    const big = opaque(200);
    const outcome = writer.run((s) => void (s['x'] = big)).then(() => 'stored' as const, (e: unknown) => e);
    await sleep(2000);
    expect((await readAll(reader))['x']).toBe('small'); // the claim looks given up: fenced, and the record repaired
    const answered = await outcome;
    hook = undefined;
    // Never a 2xx for a value no read shows: before fencing, this write was acknowledged and then never read.
    expect((await readAll(writer))['x']).toBe(answered === 'stored' ? big : 'small');
    expect(answered).toBeInstanceOf(SessionStoreUnavailableError);
  });

  it("a claim already fenced is repaired at once: a guarded write of the attribute does not wait for the claim to age (found by the model-based suite)", async () => {
    const { store } = await splitStore();
    const t = testManager({ onConflict: 'reject' }, store);
    await t.run((s) => void (s['x'] = opaque(200)));
    // The part write and the writer's own fence of its claim both lose their answer; the fence lands, the content never does.
    const held: Array<() => Promise<unknown>> = [];
    hook = (command, input, next) => {
      if (command !== 'UpdateItem' || input.Key?.part !== 'a#x') return next();
      held.push(() => next().catch((e: unknown) => e));
      return Promise.reject(lostAnswer());
    };
    await expect(t.run((s) => void (s['x'] = opaque(200)))).rejects.toThrow(SessionStoreUnavailableError);
    hook = undefined;
    for (const land of held.reverse()) await land(); // the fence first: every content write is refused after it
    const later = opaque(200);
    await t.run((s) => void (s['x'] = later)); // before: 503 "still being stored" until the claim was 13 s old
    expect((await readAll(t))['x']).toBe(later);
  });

  it('an ignored request that meets a given-up claim writes nothing and reads the value from before it', async () => {
    const { store, tableName } = await splitStore();
    const writer = testManager({}, store);
    await writer.run((s) => void (s['x'] = 'small'));
    const reader = await impatientNode(tableName, { ignoreUris: ['/health'] });
    reader.setCookie(writer.cookie());
    pausedPartWrite('x', 2500);
    const outcome = writer.run((s) => void (s['x'] = opaque(200))).then(() => 'stored' as const, (e: unknown) => e);
    await sleep(2000);
    const writes: string[] = [];
    const paused = hook!;
    hook = async (command, input, next) => {
      if (command !== 'Query' && command !== 'GetItem') writes.push(command);
      return paused(command, input, next);
    };
    const health = reader.request({ path: '/health' });
    expect((await health.load())['x']).toBe('small');
    await health.commit();
    expect(writes).toEqual([]); // no fence, no repair: the README says ignored requests write nothing
    hook = paused;
    expect(await outcome).toBe('stored'); // nobody fenced it, so the slow writer's value lands and is acknowledged
    hook = undefined;
    expect((await readAll(writer))['x']).not.toBe('small');
  });

  it("'reject': a guard that failed only on a claim left by a failed commit is retried, not a 409 naming nothing", async () => {
    const { store, tableName } = await splitStore();
    const writer = testManager({}, store);
    await writer.run((s) => void (s['x'] = 'small'));
    // The part write's answer is lost, and so is every call after it on that item: its claim stays behind (503).
    hook = async (_command, input, next) => (input.Key?.part === 'a#x' ? Promise.reject(lostAnswer()) : next());
    await expect(writer.run((s) => void (s['x'] = opaque(200)))).rejects.toThrow(SessionStoreUnavailableError);
    hook = undefined;
    const other = await impatientNode(tableName, { onConflict: 'reject' });
    other.setCookie(writer.cookie());
    const request = other.request();
    const s = await request.load(); // the claim is recent: it waits a little, then reads the value from before
    expect(s['x']).toBe('small');
    s['x'] = 'mine';
    await sleep(2000); // the claim is given up by now
    await expect(request.commit()).resolves.toBeDefined();
    expect((await readAll(writer))['x']).toBe('mine');
  });
});
