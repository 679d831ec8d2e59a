import type { FinalizeRequestMiddleware } from '@smithy/types';
import { DynamoDbStore } from '../../lib';
import { dropTable, LAYOUT_OPTIONS, localClient, randomTableName, scanItems } from '../support/dynamodb';
import { lostAnswer } from '../support/hooked-client';
import { testManager } from '../support/manager';
import { quietLogger } from '../support/quiet-logger';

/**
 * Review repro: a create (the first write of a session, or regenerate()/login()'s new item) whose first
 * attempt's answer is lost and applied later, while the SDK's retry succeeds. The store fences the token
 * (fences.ts) — but the fence lives in the item, and a logout deletes the item with its fences. The late
 * first attempt is conditioned on attribute_not_exists(sessionId) AND NOT contains(fences, token): both
 * hold on a deleted item, so it recreates the destroyed session.
 */
type Held = { land: () => Promise<unknown> };
const arm: { current: ((command: string, input: Record<string, unknown>) => boolean) | undefined } = { current: undefined };
const held: Held[] = [];

/** A client whose matching call loses its first attempt's answer (held, to land later) inside the SDK's retry loop. */
function retryingClient() {
  const client = localClient();
  const mw: FinalizeRequestMiddleware<any, any> = (next, context) => {
    let attempt = 0;
    return async (args) => {
      attempt++;
      const command = String(context.commandName).replace(/Command$/, '');
      if (attempt === 1 && arm.current?.(command, (args as any).input ?? {})) {
        arm.current = undefined;
        const copy = { ...args };
        held.push({ land: () => next(copy).then(() => 'applied', (e: unknown) => (e as Error).name) });
        throw lostAnswer();
      }
      return next(args);
    };
  };
  // Inside the retry loop: added after the store's attempt tracker, so the tracker sees this attempt's error.
  client.middlewareStack.addRelativeTo(mw, { relation: 'after', toMiddleware: 'retryMiddleware', name: 'reviewLoseFirst' });
  return client;
}

const tables: string[] = [];
afterAll(() => Promise.all(tables.map(dropTable)));

it('a session destroyed after a create whose retried attempt succeeded comes back when the lost first attempt lands', async () => {
  const tableName = randomTableName('review');
  tables.push(tableName);
  const client = retryingClient();
  const store = new DynamoDbStore({ ...LAYOUT_OPTIONS, tableName, client }, quietLogger);
  await store.ready();
  const t = testManager({}, store);
  // The create of a new session: the first attempt's answer is lost, the SDK retries and that attempt succeeds.
  arm.current = (command, input) => command === 'UpdateItem' && String(input['ConditionExpression'] ?? '').includes('attribute_not_exists');
  await t.run((s) => void (s['user'] = 'ada'));
  expect(held).toHaveLength(1);
  const issued = t.cookie();
  expect(issued).toBeDefined();
  // The store did fence the token (success after an ambiguous attempt) — in the item the logout then deletes.
  const heads = (await scanItems(tableName)).filter((i) => i['part'] === undefined || i['part'] === '#');
  expect(heads).toHaveLength(1);
  expect(heads[0]!['fences']).toBeInstanceOf(Set);
  // Logout: 2xx, cookie cleared, item deleted.
  await t.run((s) => s.destroy());
  expect(t.cookie()).toBeUndefined();
  expect((await scanItems(tableName)).filter((i) => i['part'] === undefined || i['part'] === '#')).toHaveLength(0);
  // DynamoDB applies the lost first attempt now.
  const landed = await held[0]!.land();
  // The destroyed session must stay unreadable.
  t.setCookie(issued);
  let user: unknown;
  await t.run((s) => void (user = s['user']));
  expect({ landed, user }).toEqual({ landed: expect.anything(), user: undefined });
});
