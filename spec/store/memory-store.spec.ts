import { MemoryStore } from '../../lib';

describe('MemoryStore', () => {
  const times = { createdAt: 1000, lastAccessedAt: 1000, expiresAt: 100 };

  it('applies deltas and bumps the version', async () => {
    const store = new MemoryStore();
    await store.create('k', { ...times, data: { a: '1', b: '2' } });
    expect(await store.update('k', { set: new Map([['a', '3']]), remove: ['b'], lastAccessedAt: 2000, expiresAt: 200, now: 2000 })).toEqual({ status: 'stored' });
    expect(await store.get('k')).toEqual({ ...times, lastAccessedAt: 2000, expiresAt: 200, version: 2, data: { a: '3' } });
  });

  it('does not write to a missing or expired item', async () => {
    const store = new MemoryStore();
    const update = { set: new Map([['a', '1']]), remove: [], lastAccessedAt: 0, expiresAt: 500, now: 100_000 };
    expect(await store.update('missing', update)).toEqual({ status: 'gone' });
    await store.create('k', { ...times, data: {} });
    expect(await store.update('k', update)).toEqual({ status: 'gone' }); // expiresAt 100 s <= now 100 s
  });

  it('hands out copies, so callers cannot change what is stored', async () => {
    const store = new MemoryStore();
    const bytes = new Uint8Array([1, 2]);
    await store.create('k', { ...times, data: { b: bytes } });
    bytes[0] = 9;
    const read = await store.get('k');
    (read!.data as Record<string, unknown>)['x'] = 'y';
    expect(await store.get('k')).toEqual({ ...times, version: 1, data: { b: new Uint8Array([1, 2]) } });
  });

  it('destroy conditioned on a version: deletes at that version, refuses a stale one with the item as it is, a missing item is gone', async () => {
    const store = new MemoryStore();
    const write = { set: new Map([['cart', '["book"]']]), remove: [], lastAccessedAt: 2000, expiresAt: 200, now: 2000 };
    await store.create('k', { ...times, data: { a: '1' } });
    await store.update('k', write); // another request wrote after a load at version 1
    expect(await store.destroy('k', 1)).toEqual({ status: 'changed', current: { ...times, lastAccessedAt: 2000, expiresAt: 200, version: 2, data: { a: '1', cart: '["book"]' } } });
    expect((await store.get('k'))?.version).toBe(2);
    expect(await store.destroy('k', 2)).toEqual({ status: 'destroyed' });
    expect(await store.get('k')).toBeUndefined();
    expect(await store.destroy('k', 2)).toEqual({ status: 'gone' });
    expect(await store.destroy('never')).toEqual({ status: 'gone' });
  });
});
