import { MemoryStore, SessionStore } from '../../lib';
import { tableForSuite } from '../support/dynamodb';

/**
 * The lease part of the store contract, run on both stores: MemoryStore is the
 * twin the fast specs rely on, so it must refuse exactly what DynamoDB refuses.
 */
const NOW = Date.UTC(2030, 0, 1);
const times = { createdAt: NOW, lastAccessedAt: NOW, expiresAt: Math.floor(NOW / 1000) + 1800 };
const delta = (owner: string, now: number) => ({
  set: new Map([['cart', `"${owner}"`]]), remove: [], lastAccessedAt: now, expiresAt: times.expiresAt, now, lockOwner: owner,
});

describe.each<[string, () => SessionStore]>([
  ['MemoryStore', () => new MemoryStore()],
  ['DynamoDbStore', () => dynamo.store],
])('leases on %s', (_name, storeOf) => {
  let n = 0;
  const key = (): string => `lease-${_name}-${n++}`;

  it('one holder at a time while the lease runs; a second acquire is told how long to wait', async () => {
    const store = storeOf();
    const k = key();
    await store.create(k, { ...times, data: {} });
    expect((await store.acquire(k, 'a', NOW + 5000, NOW)).status).toBe('locked');
    expect(await store.acquire(k, 'b', NOW + 5000, NOW + 10)).toEqual({ status: 'busy', lockExpires: NOW + 5000 });
  });

  it('a holder whose lease ran out and was taken over cannot write; the new holder can, and its write releases the lease', async () => {
    const store = storeOf();
    const k = key();
    await store.create(k, { ...times, data: {} });
    await store.acquire(k, 'a', NOW + 100, NOW);
    expect((await store.acquire(k, 'b', NOW + 5000, NOW + 200)).status).toBe('locked');
    expect((await store.update(k, delta('a', NOW + 300))).status).toBe('conflict');
    expect((await store.update(k, delta('b', NOW + 300))).status).toBe('stored');
    const item = (await store.get(k))!;
    expect(item.data['cart']).toBe('"b"');
    expect(item.lockOwner).toBeUndefined();
  });

  it('release by someone else is ignored; release by the holder frees the lease', async () => {
    const store = storeOf();
    const k = key();
    await store.create(k, { ...times, data: {} });
    await store.acquire(k, 'a', NOW + 5000, NOW);
    await store.release(k, 'b');
    expect((await store.get(k))!.lockOwner).toBe('a');
    await store.release(k, 'a');
    expect((await store.get(k))!.lockOwner).toBeUndefined();
    expect((await store.acquire(k, 'b', NOW + 5000, NOW + 10)).status).toBe('locked');
  });

  it('there is nothing to lock on a missing or expired session', async () => {
    const store = storeOf();
    const k = key();
    expect((await store.acquire(k, 'a', NOW + 5000, NOW)).status).toBe('absent');
    await store.create(k, { ...times, data: {} });
    expect((await store.acquire(k, 'a', NOW + 5000, times.expiresAt * 1000 + 1)).status).toBe('absent');
  });
});

const dynamo = tableForSuite();
