import { keyOf } from '../support/cookies';
import { getItem, tableForSuite } from '../support/dynamodb';
import { testManager } from '../support/manager';


describe('expiry on DynamoDB Local (injected clock)', () => {
  const suite = tableForSuite();

  it('ends an idle session after maxInactiveInterval; activity before that keeps it alive', async () => {
    const t = testManager({ maxInactiveInterval: 600, touchAfter: 60 }, suite.store);
    await t.run((s) => void (s['user'] = 'ada'));
    t.clock.now += 500_000;
    await t.run((s) => expect(s['user']).toBe('ada')); // touched: 500 s remain < 600 - 60
    t.clock.now += 500_000; // 1000 s after creation, 500 s after the touch
    await t.run((s) => expect(s['user']).toBe('ada'));
    t.clock.now += 601_000;
    await t.run((s) => {
      expect(s.isNew).toBe(true);
      expect({ ...s }).toEqual({});
    });
  });

  it('ends a session at absoluteTimeout however often it is touched', async () => {
    const t = testManager({ maxInactiveInterval: 600, absoluteTimeout: 1000, touchAfter: 0 }, suite.store);
    await t.run((s) => void (s['user'] = 'ada'));
    const key = keyOf(t.cookie()!);
    for (let i = 0; i < 3; i++) {
      t.clock.now += 300_000;
      await t.run((s) => expect(s['user']).toBe('ada'));
    }
    const item = (await getItem(suite.tableName, key))!;
    expect(item['expiresAt']).toBe(item['absoluteExpiresAt']); // touches could not move the deadline past it
    t.clock.now += 100_001;
    await t.run((s) => expect(s.isNew).toBe(true));
  });

  it('"remember me": setMaxInactiveInterval outlives the default, is stored, and makes the cookie persistent', async () => {
    const t = testManager({ maxInactiveInterval: 600 }, suite.store);
    const result = await t.run((s) => {
      s['user'] = 'ada';
      s.setMaxInactiveInterval(30 * 86400);
    });
    expect(result.headers.find(([n]) => n === 'Set-Cookie')![1]).toMatch(/Max-Age=2592000/);
    const item = (await getItem(suite.tableName, keyOf(t.cookie()!)))!;
    expect(item['maxInactiveInterval']).toBe(2592000);
    t.clock.now += 10 * 86400_000; // far past the default 600 s
    await t.run((s) => {
      expect(s['user']).toBe('ada');
      expect(s.maxInactiveInterval).toBe(2592000);
    });
    const s = await t.request().load();
    expect(() => s.setMaxInactiveInterval(0)).toThrow(RangeError);
    expect(() => s.setMaxInactiveInterval(1.5)).toThrow(/positive whole number of seconds/);
  });

  it('an expired item not yet deleted by TTL is not served, and a late write does not resurrect it', async () => {
    const t = testManager({ maxInactiveInterval: 600 }, suite.store);
    await t.run((s) => void (s['cart'] = ['tea']));
    const oldCookie = t.cookie()!;
    const slow = t.request();
    const s = await slow.load(); // a request that started before the deadline...
    t.clock.now += 601_000; // ...and commits after it
    s['cart'] = ['tea', 'scones'];
    await expect(slow.commit()).rejects.toThrow(/destroyed or expired/);
    expect((await getItem(suite.tableName, keyOf(oldCookie)))!['data']).toEqual({ cart: '["tea"]' });
    await t.run((fresh) => expect(fresh.isNew).toBe(true));
  });
});
