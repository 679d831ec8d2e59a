import { SessionStoreUnavailableError } from '../../lib';
import { getItem } from '../support/dynamodb';
import { storeBehindProxy, StoreBehindProxy } from '../support/fault-proxy';

/**
 * A write whose first attempt DynamoDB applied but whose answer was lost, and
 * whose SDK retries then failed for another reason (throttling): the store must
 * read the item back and report the write as done, not answer 503 for a stored write.
 */
describe('ambiguous writes: any attempt that may have been applied is checked (fault proxy, scripted per call)', () => {
  let behind: StoreBehindProxy;
  const now = Date.UTC(2030, 0, 1);
  const times = { createdAt: now, lastAccessedAt: now, expiresAt: Math.floor(now / 1000) + 1800 };
  const touch = (data: Record<string, string>) => ({ set: new Map(Object.entries(data)), remove: [], lastAccessedAt: now, expiresAt: times.expiresAt, now });

  beforeEach(async () => {
    behind = await storeBehindProxy({}, 3);
  });
  afterEach(() => behind.close());

  const appliedThenThrottled = (operation: string) => [
    { fault: 'dropAfter' as const, operations: [operation] },
    { fault: 'throttle' as const, operations: [operation], times: Infinity },
  ];

  it('create: attempt 1 applied with its answer cut -> no retry (a create is not retried after a lost answer), the fence and read-back find it stored', async () => {
    const { proxy, store, tableName } = behind;
    proxy.queue(appliedThenThrottled('UpdateItem'));
    await expect(store.create('k', { ...times, data: { a: '"1"' } })).resolves.toBeUndefined();
    proxy.queue([]);
    // One attempt (docs/guarantees.md: a create is never retried after a lost answer); then the fence's three
    // attempts (a write too, throttled), and the read-back finds the item with the create's token.
    expect(proxy.injected).toMatchObject({ dropAfter: 1, throttle: 3 });
    expect((await getItem(tableName, 'k'))?.['data']).toEqual({ a: '"1"' });
  });

  it('update: attempt 1 applied with its answer cut, the retries throttled -> stored, not a 503', async () => {
    const { proxy, store } = behind;
    await store.create('k', { ...times, data: { a: '"1"' } });
    proxy.queue(appliedThenThrottled('UpdateItem'));
    await expect(store.update('k', touch({ a: '"2"' }))).resolves.toEqual({ status: 'stored' });
    proxy.queue([]);
    expect((await store.get('k'))?.data).toEqual({ a: '"2"' });
  });

  it('a write that was never applied still fails with a 503 after the read-back', async () => {
    const { proxy, store } = behind;
    await store.create('k', { ...times, data: { a: '"1"' } });
    proxy.queue([
      { fault: 'dropBefore', operations: ['UpdateItem'] },
      { fault: 'throttle', operations: ['UpdateItem'], times: Infinity },
    ]);
    const readsBefore = proxy.calls['GetItem'] ?? 0; // the read-back is a GetItem of the written item in either layout
    await expect(store.update('k', touch({ a: '"2"' }))).rejects.toThrow(SessionStoreUnavailableError);
    proxy.queue([]);
    expect((proxy.calls['GetItem'] ?? 0) - readsBefore).toBe(1); // it did look
    expect((await store.get('k'))?.data).toEqual({ a: '"1"' });
  });

  // A delete that lost its answer and finds the item gone cannot tell its own delete from another request's (a
  // logout, or a move that recorded where the session went): 'gone', so a retiring regenerate() gives up (409) and a
  // logout looks for a move to follow. Never a 503 for an item that is gone.
  it('conditional destroy (regenerate): attempt 1 applied with its answer cut, the retries throttled -> gone, not a 503', async () => {
    const { proxy, store, tableName } = behind;
    await store.create('k', { ...times, data: { a: '"1"' } });
    proxy.queue(appliedThenThrottled('DeleteItem'));
    await expect(store.destroy('k', 1)).resolves.toEqual({ status: 'gone', ambiguous: true });
    proxy.queue([]);
    expect(await getItem(tableName, 'k')).toBeUndefined();
  });

  it("conditional destroy: attempt 1 applied with its answer cut, the retry's condition then fails on the missing item -> gone", async () => {
    const { proxy, store } = behind;
    await store.create('k', { ...times, data: { a: '"1"' } });
    proxy.queue([{ fault: 'dropAfter', operations: ['DeleteItem'] }]);
    await expect(store.destroy('k', 1)).resolves.toEqual({ status: 'gone', ambiguous: true });
  });

  it('destroy (logout): attempt 1 applied with its answer cut, the retries throttled -> resolves, gone', async () => {
    const { proxy, store } = behind;
    await store.create('k', { ...times, data: { a: '"1"' } });
    proxy.queue(appliedThenThrottled('DeleteItem'));
    await expect(store.destroy('k')).resolves.toEqual({ status: 'gone', ambiguous: true });
    proxy.queue([]);
    expect(await store.get('k')).toBeUndefined();
  });

  it('a retry that succeeded after an attempt whose answer was lost fences that attempt, so it cannot apply again later', async () => {
    const { proxy, store, tableName } = behind;
    await store.create('k', { ...times, data: { a: '"1"' } });
    proxy.queue([{ fault: 'dropAfter', operations: ['UpdateItem'] }]);
    await expect(store.update('k', touch({ a: '"2"' }))).resolves.toEqual({ status: 'stored' });
    proxy.queue([]);
    const item = await getItem(tableName, 'k');
    expect(item?.['fences']).toBeInstanceOf(Set);
    expect([...(item?.['fences'] as Set<string>)]).toEqual([item?.['writeToken']]); // the write's own token: a fence changes no token
  });
});
