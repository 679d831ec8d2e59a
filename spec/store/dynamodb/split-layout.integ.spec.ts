import { randomBytes } from 'node:crypto';
import { CreateTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { DynamoDbStore, SessionConfigError } from '../../../lib';
import { createTableInput } from '../../../lib/store/dynamodb/table-bootstrap';
import { CallLog, dropTable, LAYOUT, localClient, randomTableName, scanItems, storeOnNewTable } from '../../support/dynamodb';
import { testManager } from '../../support/manager';
import { quietLogger } from '../../support/quiet-logger';

// These specs are about the split layout itself: they run once, in the split project.
const describeSplit = LAYOUT === 'split' ? describe : describe.skip;

const tables: string[] = [];
afterAll(async () => {
  await Promise.all(tables.map(dropTable));
});

/** A store on a new split table with the library's own defaults (partThreshold 400, not the specs' 64). */
async function splitStore(options: Partial<ConstructorParameters<typeof DynamoDbStore>[0]> = {}) {
  const created = await storeOnNewTable({ layout: 'split', partThreshold: 400, ...options });
  tables.push(created.tableName);
  return created;
}

/** Random base64url: compression cannot make it small. */
const opaque = (bytes: number): string => randomBytes(Math.ceil((bytes * 3) / 4)).toString('base64url').slice(0, bytes);

/** One request that reads the whole session and changes nothing. */
async function readAll(t: ReturnType<typeof testManager>): Promise<Record<string, unknown>> {
  const ctx = t.request();
  const session = { ...(await ctx.load()) };
  await ctx.commit();
  return session;
}

/** The items of one session in the table, by sort key. */
async function itemsOf(tableName: string, key: string): Promise<Map<string, Record<string, unknown>>> {
  return new Map((await scanItems(tableName)).filter((i) => i['sessionId'] === key).map((i) => [String(i['part']), i]));
}

describeSplit('the table decides the layout', () => {
  it('creates new tables split; follows an existing table when no layout is given; refuses a mismatch naming both', async () => {
    const { store, tableName } = await storeOnNewTable({ layout: undefined, partThreshold: undefined });
    tables.push(tableName);
    expect(store.layout).toBe('split');

    const single = randomTableName('single');
    tables.push(single);
    await localClient().send(new CreateTableCommand(createTableInput({ tableName: single, billing: { mode: 'PAY_PER_REQUEST' }, layout: 'single' })));
    const follower = new DynamoDbStore({ tableName: single, client: localClient() }, quietLogger);
    await follower.ready();
    expect(follower.layout).toBe('single');

    const wrong = new DynamoDbStore({ tableName: single, client: localClient(), layout: 'split' }, quietLogger);
    await expect(wrong.ready()).rejects.toThrow(SessionConfigError);
    await expect(wrong.ready()).rejects.toThrow(
      `table "${single}" has the single layout (partition key "sessionId" only: one item per session), but this store is configured with layout: 'split'. ` +
        `Set layout: 'single' (or leave layout out to follow the table), or give a new tableName for the split layout`,
    );
    const alsoWrong = new DynamoDbStore({ tableName, client: localClient(), layout: 'single' }, quietLogger);
    await expect(alsoWrong.ready()).rejects.toThrow(/has the split layout \(partition key "sessionId", sort key "part": .*configured with layout: 'single'/);
    // A misconfigured store makes no session call: every request gets the startup error, a configuration error (500).
    await expect(alsoWrong.get('k')).rejects.toThrow(SessionConfigError);
  });

  it('a missing table with createIfNotExist: false prints the command that creates the configured layout', async () => {
    const missing = randomTableName('missing');
    const store = new DynamoDbStore({ tableName: missing, client: localClient(), createIfNotExist: false, layout: 'single' }, quietLogger);
    await expect(store.ready()).rejects.toThrow(`Create it with: npx dynamo-session create-table --table ${missing} --region us-east-1 --layout single (`);
  });

  it('refuses split with rotation, and partThreshold without split, at construction', () => {
    expect(() => new DynamoDbStore({ expiry: 'rotation', rotationPeriod: 3600, layout: 'split' })).toThrow(/expiry: 'rotation' works with layout: 'single' only/);
    expect(() => new DynamoDbStore({ layout: 'single', partThreshold: 100 })).toThrow(/partThreshold is only used with layout: 'split'/);
    expect(() => new DynamoDbStore({ layout: 'double' as never, partThreshold: 0 })).toThrow(/layout must be 'single' or 'split', got "double"\n.*partThreshold must be a positive whole number, got number 0/);
  });
});

describeSplit('write cost follows the change', () => {
  it('a counter change beside a 20 KB part writes the head alone; a touch too; the part is written once', async () => {
    const { store, log, tableName } = await splitStore();
    const t = testManager({}, store);
    await t.run((s) => void Object.assign(s, { tokens: opaque(20 * 1024), user: { id: 'u1' }, count: 0 }));
    log.clear();
    await t.run((s) => void (s['count'] = 1));
    expect(log.calls).toEqual(['Query', 'UpdateItem']);
    expect(log.inputs[1]!.input['Key']).toEqual({ sessionId: expect.any(String) as string, part: '#' });
    const items = await itemsOf(tableName, String((log.inputs[1]!.input['Key'] as Record<string, string>)['sessionId']));
    expect([...items.keys()].sort()).toEqual(['#', 'a#tokens']);
    // The head is well under 1 KB: the write costs one unit, where one item would cost 21.
    expect(Buffer.byteLength(JSON.stringify(items.get('#')))).toBeLessThan(1024);

    log.clear();
    await t.run((s) => s.touch());
    expect(log.calls).toEqual(['Query', 'UpdateItem']);
    expect((log.inputs[1]!.input['Key'] as Record<string, string>)['part']).toBe('#');
    expect((await readAll(t))['tokens']).toHaveLength(20 * 1024);
  });

  it('a 700 KB session is stored, read whole in one Query, updated attribute by attribute, and destroyed leaving no item', async () => {
    const { store, log, tableName } = await splitStore();
    const t = testManager({}, store);
    const values = Array.from({ length: 7 }, () => opaque(100 * 1024));
    await t.run((s) => values.forEach((v, i) => void (s[`p${i}`] = v)));
    log.clear();
    const read = (await readAll(t)) as Record<string, string>;
    expect(log.calls).toEqual(['Query']);
    expect(values.every((v, i) => read[`p${i}`] === v)).toBe(true);

    for (const i of [2, 5]) {
      log.clear();
      values[i] = opaque(100 * 1024);
      await t.run((s) => void (s[`p${i}`] = values[i]));
      // The head (claim, version), then the one part: never the other six.
      expect(log.calls).toEqual(['Query', 'UpdateItem', 'UpdateItem']);
      expect((log.inputs[2]!.input['Key'] as Record<string, string>)['part']).toBe(`a#p${i}`);
    }
    const again = (await readAll(t)) as Record<string, string>;
    expect(values.every((v, i) => again[`p${i}`] === v)).toBe(true);

    await t.run((s) => s.destroy());
    expect(await scanItems(tableName)).toEqual([]);
  });

  it('an attribute that grows into a part and shrinks back keeps its value and leaves nothing behind', async () => {
    const { store, tableName, log } = await splitStore();
    const t = testManager({}, store);
    await t.run((s) => void (s['note'] = 'short'));
    const key = () => String((log.inputs.find((c) => c.command === 'UpdateItem')!.input['Key'] as Record<string, string>)['sessionId']);
    const big = opaque(2000);
    await t.run((s) => void (s['note'] = big));
    let items = await itemsOf(tableName, key());
    expect([...items.keys()].sort()).toEqual(['#', 'a#note']);
    expect(items.get('#')!['data']).toEqual({}); // the inline copy went once the part had landed
    expect((await readAll(t))['note']).toBe(big);

    await t.run((s) => void (s['note'] = 'short again'));
    items = await itemsOf(tableName, key());
    expect([...items.keys()]).toEqual(['#']);
    expect(items.get('#')!['parts']).toEqual({});
    expect((await readAll(t))['note']).toBe('short again');

    await t.run((s) => void (s['note'] = big));
    await t.run((s) => void delete s['note']);
    expect([...(await itemsOf(tableName, key())).keys()]).toEqual(['#']);
  });

  it('regenerate() moves the parts to the new id and leaves none under the old one', async () => {
    const { store, tableName } = await splitStore();
    const t = testManager({}, store);
    const big = opaque(5000);
    await t.run((s) => void Object.assign(s, { big, small: 1 }));
    const before = new Set((await scanItems(tableName)).map((i) => String(i['sessionId'])));
    await t.run((s) => s.regenerate());
    const all = await scanItems(tableName);
    // Besides the session: the record of the move (docs/guarantees.md, "A logout is final"), one small item of its own.
    expect(all.filter((i) => String(i['sessionId']).startsWith('moved#')).map((i) => [...before].map((k) => `moved#${k}`).includes(String(i['sessionId'])))).toEqual([true]);
    const after = all.filter((i) => !String(i['sessionId']).startsWith('moved#'));
    expect(after.map((i) => String(i['part'])).sort()).toEqual(['#', 'a#big']);
    expect(after.some((i) => before.has(String(i['sessionId'])))).toBe(false);
    expect((await readAll(t))['big']).toBe(big);
  });
});

describeSplit('reads, locks and principals', () => {
  it('a locking load takes the lease on the head and returns the whole session in two calls (one without parts)', async () => {
    const { store, log } = await splitStore();
    const t = testManager({ locking: 'all' }, store);
    const big = opaque(3000);
    await t.run((s) => void Object.assign(s, { big, n: 1 }));
    log.clear();
    let seen: Record<string, unknown> = {};
    await t.run((s) => {
      s['n'] = 2;
      seen = { ...s };
    });
    expect(seen['big']).toBe(big);
    // Lease + item (UpdateItem), the parts (Query), then the commit that releases the lease.
    expect(log.calls).toEqual(['UpdateItem', 'Query', 'UpdateItem']);
    const small = testManager({ locking: 'all' }, store);
    await small.run((s) => void (s['n'] = 1));
    log.clear();
    await small.run((s) => void (s['n'] = 2));
    expect(log.calls).toEqual(['UpdateItem', 'UpdateItem']);
  });

  it('parts without a live head are never read; an unnamed part beside a head is ignored', async () => {
    const { store, tableName } = await splitStore();
    const client = localClient();
    const far = Math.floor(Date.now() / 1000) + 3600;
    await client.send(new PutItemCommand({ TableName: tableName, Item: marshall({ sessionId: 'orphan', part: 'a#x', value: '"x"', v: 1, expiresAt: far }) }));
    expect(await store.get('orphan')).toBeUndefined();
    await client.send(new PutItemCommand({
      TableName: tableName,
      Item: marshall({ sessionId: 'live', part: '#', data: { a: '1' }, parts: {}, partSince: {}, partInfo: {}, version: 1, createdAt: 1, lastAccessedAt: 1, expiresAt: far }),
    }));
    await client.send(new PutItemCommand({ TableName: tableName, Item: marshall({ sessionId: 'live', part: 'a#x', value: '"x"', v: 1, expiresAt: far }) }));
    expect({ ...(await store.get('live'))!.data }).toEqual({ a: '1' });
    client.destroy();
  });

  it('destroyByPrincipal deletes heads and parts; findByPrincipal finds the heads', async () => {
    const { store, tableName } = await splitStore();
    for (let i = 0; i < 3; i++) {
      await testManager({}, store).run((s) => {
        s.setPrincipal('ada');
        s['big'] = opaque(1000);
      });
    }
    expect(await store.findByPrincipal('ada')).toHaveLength(3);
    expect(await scanItems(tableName)).toHaveLength(6);
    expect(await store.destroyByPrincipal('ada')).toBe(3);
    expect(await scanItems(tableName)).toEqual([]);
  });
});

describeSplit('expiry', () => {
  it('parts never expire before their head, and are extended as touches carry the head toward them', async () => {
    const log = new CallLog();
    const tableName = randomTableName('split-expiry');
    tables.push(tableName);
    const store = new DynamoDbStore({ tableName, client: localClient(log), layout: 'split', partThreshold: 400 }, quietLogger);
    await store.ready();
    const t = testManager({ maxInactiveInterval: 2 * 86400 }, store);
    await t.run((s) => void Object.assign(s, { big: opaque(2000) }));
    const expiries = async () => {
      const items = await scanItems(tableName);
      const head = items.find((i) => i['part'] === '#')!;
      const part = items.find((i) => i['part'] === 'a#big')!;
      return { head: Number(head['expiresAt']), part: Number(part['expiresAt']), recorded: Number(head['partsExpireAt']) };
    };
    const first = await expiries();
    expect(first.part).toBe(first.head + 7 * 86400);
    expect(first.recorded).toBe(first.part);
    // Active every day for three weeks: each day's touch moves the head; the part stays ahead of it.
    for (let day = 1; day <= 21; day++) {
      t.clock.now += 86400_000;
      await t.run((s) => s.touch());
      const now = await expiries();
      expect(now.part).toBeGreaterThanOrEqual(now.head);
      expect(now.recorded).toBeLessThanOrEqual(now.part);
      expect(now.recorded).toBeGreaterThanOrEqual(now.head);
    }
    expect((await expiries()).part).toBeGreaterThan(first.part);
  });
});
