import { DynamoDbStore } from '../../lib';
import { dropTable, LAYOUT_OPTIONS, randomTableName } from '../support/dynamodb';
import { CallHook, hookedClient, lostAnswer } from '../support/hooked-client';
import { testManager } from '../support/manager';
import { quietLogger } from '../support/quiet-logger';

/**
 * "A logout is final" when a delete loses its answer while another node's login moves the session (found by
 * review). A delete that lost its answer and finds its item gone cannot tell whether it deleted it: the store says
 * 'gone', so a logout then reads the move record and follows it, and a login's retire gives up with 409 (and
 * discards its new item) rather than answer 2xx beside a logout that deleted the old item first.
 */
const hooksA: { current: CallHook | undefined } = { current: undefined };
const hooksB: { current: CallHook | undefined } = { current: undefined };
const tables: string[] = [];
afterAll(() => Promise.all(tables.map(dropTable)));

/** Node A's logout and node B's login of the same session, both loaded, neither committed. */
async function racingLoginAndLogout() {
  const tableName = randomTableName('late-delete');
  tables.push(tableName);
  const node = async (hooks: { current: CallHook | undefined }) => {
    const store = new DynamoDbStore({ ...LAYOUT_OPTIONS, tableName, client: hookedClient(hooks) }, quietLogger);
    await store.ready();
    return testManager({}, store);
  };
  const a = await node(hooksA);
  const b = await node(hooksB);
  await a.run((s) => void (s['cart'] = ['pen']));
  b.setCookie(a.cookie());
  const login = b.request();
  (await login.load()).login('ada');
  const logout = a.request();
  await logout.load();
  logout.destroy();
  return { b, login, logout };
}

it('a logout whose delete lost its answer while a login moved the session follows the move: the moved session is ended too', async () => {
  const { b, login, logout } = await racingLoginAndLogout();

  // The logout's DeleteItem goes out and its answer is lost; meanwhile (before it reaches DynamoDB) the login commits.
  let loginHeaders: Array<[string, string]> = [];
  hooksA.current = async (command, _input, next) => {
    if (command !== 'DeleteItem') return next();
    hooksA.current = undefined;
    loginHeaders = [...(await login.commit()).headers];
    void next; // never applied: the old item is gone anyway
    throw lostAnswer();
  };
  const answered = await logout.commit().then(() => '2xx', (e: Error) => `${e.name}`);
  const newCookie = loginHeaders.find(([n]) => n === 'Set-Cookie')?.[1]?.match(/^sid=([^;]*)/)?.[1];
  expect(newCookie).toBeTruthy();

  b.setCookie(newCookie);
  let cart: unknown;
  await b.run((s) => void (cart = s['cart']));
  expect({ answered, sessionLivesOn: cart !== undefined }).not.toEqual({ answered: '2xx', sessionLivesOn: true });
});

it('a login whose retire of the old item lost its answer while a logout deleted that item: never both 2xx with the session alive', async () => {
  const { b, login, logout } = await racingLoginAndLogout();

  // The login's retire (DeleteItem of the old item at the loaded version) loses its answer; before it reaches
  // DynamoDB the logout commits: it finds the old item and deletes it, so it follows no move.
  let logoutAnswer = 'not run';
  hooksB.current = async (command, _input, next) => {
    if (command !== 'DeleteItem') return next();
    hooksB.current = undefined;
    logoutAnswer = await logout.commit().then(() => '2xx', (e: Error) => e.name);
    void next;
    throw lostAnswer();
  };
  const loginResult = await login.commit().then((r) => r, (e: Error) => e);
  const loginAnswer = loginResult instanceof Error ? loginResult.name : '2xx';
  const newCookie = loginResult instanceof Error ? undefined : (loginResult.headers as Array<[string, string]>).find(([n]) => n === 'Set-Cookie')?.[1]?.match(/^sid=([^;]*)/)?.[1];
  let cart: unknown;
  if (newCookie) {
    b.setCookie(newCookie);
    await b.run((s) => void (cart = s['cart']));
  }
  expect({ logoutAnswer, loginAnswer, sessionLivesOn: cart !== undefined }).not.toEqual({ logoutAnswer: '2xx', loginAnswer: '2xx', sessionLivesOn: true });
});
