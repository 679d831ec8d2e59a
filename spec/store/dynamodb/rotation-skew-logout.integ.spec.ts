import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbStore } from '../../../lib';
import { dropTable, localClient, randomTableName } from '../../support/dynamodb';
import { testManager } from '../../support/manager';
import { quietLogger } from '../../support/quiet-logger';

/**
 * "A logout is final" under expiry: 'rotation' with two nodes whose clocks differ by 10 s (the model allows ±30 s)
 * around a period boundary (found by review). The node ahead moves the session into the new period's table and
 * records the move there; the node behind, for which that is still the next table, looks there too.
 */
const PERIOD = 600;
const base = randomTableName('rot-skew');
const stores: DynamoDbStore[] = [];
afterAll(async () => {
  for (const s of stores) s.close();
  const { TableNames = [] } = await localClient().send(new ListTablesCommand({}));
  for (const t of TableNames.filter((n) => n.startsWith(`${base}_`))) await dropTable(t);
});

it('a logout on a node 10 s behind, racing a login on a node ahead across a period boundary, follows the move into the next table', async () => {
  const boundary = (Math.floor(Date.UTC(2030, 0, 1) / 1000 / PERIOD) + 1) * PERIOD * 1000;
  const clockA = { now: boundary - 60_000 };
  const clockB = { now: boundary - 60_000 };
  const node = async (clock: { now: number }) => {
    const store = new DynamoDbStore({ expiry: 'rotation', tableBaseName: base, rotationPeriod: PERIOD, client: localClient(), now: () => clock.now }, quietLogger);
    stores.push(store);
    await store.ready();
    await store.rotate(); // within the lead time: the next period's table exists too
    const t = testManager({ maxInactiveInterval: PERIOD }, store);
    t.clock.now = clock.now;
    return { t, clock };
  };
  const a = await node(clockA);
  const b = await node(clockB);
  await a.t.run((s) => void (s['cart'] = ['pen']));
  const oldCookie = a.t.cookie();
  b.t.setCookie(oldCookie);

  // Node A's clock is 5 s past the boundary, node B's 5 s before it (10 s of skew).
  a.clock.now = a.t.clock.now = boundary + 5_000;
  b.clock.now = b.t.clock.now = boundary - 5_000;

  // The logout loads the session first, then a login on node A moves it, then the logout commits.
  const logout = b.t.request();
  await logout.load();
  await a.t.run((s) => s.login('ada'));
  const newCookie = a.t.cookie();
  expect(newCookie).not.toBe(oldCookie);
  logout.destroy();
  const answered = await logout.commit().then(() => '2xx', (e: Error) => e.name);

  // The new id must name no session if the logout was answered 2xx.
  let user: unknown;
  await a.t.run((s) => void (user = s['cart']));
  expect({ answered, stillValid: user !== undefined }).not.toEqual({ answered: '2xx', stillValid: true });
});
