import { SessionStoreUnavailableError } from '../../lib';
import { readableKey, scanTable, storageKey } from '../support/dynamodb';
import { storeBehindProxy, StoreBehindProxy } from '../support/fault-proxy';

/** destroyByPrincipal when DynamoDB hands back part of a batch as UnprocessedItems (it does so when throttling). */
describe('destroyByPrincipal: unprocessed batch deletes (fault proxy)', () => {
  let behind: StoreBehindProxy;
  const now = Date.now();
  const times = { createdAt: now, lastAccessedAt: now, expiresAt: Math.floor(now / 1000) + 1800 };

  beforeEach(async () => {
    behind = await storeBehindProxy({}, 5);
    const { store } = behind;
    for (let i = 0; i < 60; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => store.create(storageKey(`ada-${i + j}`), { ...times, data: {}, principal: 'ada' })));
    }
    await store.create(storageKey('grace-0'), { ...times, data: {}, principal: 'grace' });
  });
  afterEach(() => behind.close());

  it('retries the unprocessed deletes with backoff until they are done', async () => {
    const { proxy, store, tableName } = behind;
    proxy.queue([{ fault: 'unprocessed', operations: ['BatchWriteItem'], times: 3 }]);
    const before = proxy.calls['BatchWriteItem'] ?? 0;
    await expect(store.destroyByPrincipal('ada')).resolves.toBe(60);
    expect(proxy.injected.unprocessed).toBe(3);
    expect((proxy.calls['BatchWriteItem'] ?? 0) - before).toBe(3 + 3); // three batches of at most 25, three of them sent again
    expect((await scanTable(tableName)).map((item) => readableKey(item['sessionId']))).toEqual(['grace-0']);
  });

  it('gives up after a bounded number of rounds with a throttled 503 that says how to finish the job', async () => {
    const { proxy, store } = behind;
    proxy.queue([{ fault: 'unprocessed', operations: ['BatchWriteItem'], times: Infinity }]);
    const error = await store.destroyByPrincipal('ada').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreUnavailableError);
    expect(error).toMatchObject({ status: 503, throttled: true });
    expect((error as Error).message).toMatch(/call destroyByPrincipal again, or raise the table's write capacity/);
    expect(proxy.injected.unprocessed).toBeLessThanOrEqual(3 * 8);
    proxy.queue([]);
    await expect(store.destroyByPrincipal('ada')).resolves.toBe(60); // calling again finishes the job
  });
});
