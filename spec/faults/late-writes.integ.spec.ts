import type { ServiceInputTypes, ServiceOutputTypes } from '@aws-sdk/client-dynamodb';
import type { FinalizeRequestMiddleware } from '@smithy/types';
import { DynamoDbStore, SessionStoreUnavailableError } from '../../lib';
import { dropTable, LAYOUT_OPTIONS, localClient, randomTableName, scanItems } from '../support/dynamodb';
import { CallHook, hookedClient, lostAnswer } from '../support/hooked-client';
import { testManager } from '../support/manager';
import { quietLogger } from '../support/quiet-logger';

/**
 * A write whose answer is lost may be applied by DynamoDB seconds later, after other requests ran
 * (docs/guarantees.md, "Writes whose answer was lost"). Reading the item back cannot rule that out, so the
 * store fences such a write before it answers: the write either had landed (2xx) or never will (503).
 * Here the late landing is exact: the call reaches DynamoDB Local only when the spec lets it, after a
 * later request's write was acknowledged.
 */
const hooks: { current: CallHook | undefined } = { current: undefined };
const tables: string[] = [];
afterEach(() => (hooks.current = undefined));
afterAll(() => Promise.all(tables.map(dropTable)));

async function twoNodes() {
  const tableName = randomTableName('late');
  tables.push(tableName);
  const node = async () => {
    const store = new DynamoDbStore({ ...LAYOUT_OPTIONS, tableName, client: hookedClient(hooks) }, quietLogger);
    await store.ready();
    return testManager({}, store);
  };
  const a = await node();
  const b = await node();
  return { a, b };
}

/** The next call matching `which` loses its answer at once and reaches DynamoDB only when `land()` is called. */
function holdNext(which: (command: string) => boolean) {
  let land: () => Promise<unknown> = () => Promise.resolve();
  let held = false;
  hooks.current = (command, _input, next) => {
    if (held || !which(command)) return next();
    held = true;
    land = () => next().catch((e: unknown) => e);
    return Promise.reject(lostAnswer());
  };
  return { land: () => land() };
}

describe('writes whose answer was lost and that DynamoDB applies later', () => {
  it('a 503 write that lands after a later acknowledged write of the same attribute is refused: the acknowledged value stays', async () => {
    const { a, b } = await twoNodes();
    await a.run((s) => void (s['cart'] = ['pen']));
    b.setCookie(a.cookie());
    const late = holdNext((command) => command === 'UpdateItem');
    await expect(a.run((s) => void (s['cart'] = ['lost']))).rejects.toThrow(SessionStoreUnavailableError);
    hooks.current = undefined;
    await b.run((s) => void (s['cart'] = ['pen', 'book'])); // acknowledged
    const landed = await late.land();
    expect(landed).toMatchObject({ name: 'ConditionalCheckFailedException' }); // fenced
    let cart: unknown;
    await b.run((s) => void (cart = s['cart']));
    expect(cart).toEqual(['pen', 'book']);
  });

  it('a logout whose answer was lost never lands on the session the user went on to use', async () => {
    const { a, b } = await twoNodes();
    await a.run((s) => void (s['cart'] = ['pen']));
    b.setCookie(a.cookie());
    const late = holdNext((command) => command === 'DeleteItem');
    await expect(a.run((s) => s.destroy())).rejects.toThrow(SessionStoreUnavailableError);
    hooks.current = undefined;
    await b.run((s) => void (s['cart'] = ['pen', 'book'])); // the session lives on, and this is acknowledged
    expect(await late.land()).toMatchObject({ name: 'ConditionalCheckFailedException' });
    let cart: unknown;
    await b.run((s) => void (cart = s['cart']));
    expect(cart).toEqual(['pen', 'book']);
  });
});

/**
 * A client whose next create (an UpdateItem that sets createdAt) loses its first attempt's answer inside the SDK's
 * retry loop, where a retry could follow; the attempt reaches DynamoDB only when the spec lets it.
 */
function losingFirstCreateAttempt() {
  const held: Array<() => Promise<string>> = [];
  let armed = true;
  const client = localClient();
  const middleware: FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> = (next) => async (args) => {
    const names = Object.values(((args.input as { ExpressionAttributeNames?: Record<string, string> }).ExpressionAttributeNames) ?? {});
    if (armed && names.includes('createdAt')) {
      armed = false;
      const attempt = { ...args };
      held.push(() => next(attempt).then(() => 'applied', (e: unknown) => (e as Error).name));
      throw lostAnswer();
    }
    return next(args);
  };
  client.middlewareStack.addRelativeTo(middleware, { relation: 'after', toMiddleware: 'retryMiddleware', name: 'specLoseFirstCreate' });
  return { client, land: () => held[0]!() };
}

describe('a create whose answer was lost', () => {
  async function node() {
    const tableName = randomTableName('late-create');
    tables.push(tableName);
    const { client, land } = losingFirstCreateAttempt();
    const store = new DynamoDbStore({ ...LAYOUT_OPTIONS, tableName, client }, quietLogger);
    await store.ready();
    return { t: testManager({}, store), store, tableName, land };
  }
  const heads = async (tableName: string) => (await scanItems(tableName)).filter((i) => i['part'] === undefined || i['part'] === '#');

  it('is not retried (a retry that succeeded would leave the lost attempt free to bring the session back after a logout): 503, no cookie, and it never lands', async () => {
    const { t, tableName, land } = await node();
    await expect(t.run((s) => void (s['user'] = 'ada'))).rejects.toThrow(SessionStoreUnavailableError);
    expect(t.cookie()).toBeUndefined();
    expect(await land()).toBe('ConditionalCheckFailedException'); // its key holds a dead item, the create's fence
    const [dead] = await heads(tableName);
    expect(dead).toMatchObject({ expiresAt: 0 });
    expect(dead!['createdAt']).toBeUndefined();
  });

  it("login(): the new item's create that lost its answer never lands later as a session of the user", async () => {
    const { tableName, land, t: loginNode } = await node();
    const plain = new DynamoDbStore({ ...LAYOUT_OPTIONS, tableName, client: localClient() }, quietLogger);
    const t = testManager({}, plain);
    await t.run((s) => void (s['cart'] = ['pen']));
    loginNode.setCookie(t.cookie());
    await expect(loginNode.run((s) => s.login('ada'))).rejects.toThrow(SessionStoreUnavailableError);
    expect(await land()).toBe('ConditionalCheckFailedException');
    expect(await plain.findByPrincipal('ada', t.clock.now)).toEqual([]);
    let cart: unknown;
    await t.run((s) => void (cart = s['cart']));
    expect(cart).toEqual(['pen']); // the session from before the login stays whole
  });
});
