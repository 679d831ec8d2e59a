import { DynamoDbStore, SessionStoreUnavailableError } from '../../lib';
import { dropTable, LAYOUT_OPTIONS, randomTableName } from '../support/dynamodb';
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
