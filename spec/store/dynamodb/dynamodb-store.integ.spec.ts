import { quietLogger } from '../../support/quiet-logger';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import {
  DynamoDbStore, SessionConfigError, SessionStoreUnavailableError, SessionTooLargeError, TableNotFoundError,
} from '../../../lib';
import { dropTable, endpoint, LAYOUT, localClient, randomTableName, storeOnNewTable, READ_CALL } from '../../support/dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../tools/dynamodb-local';

const created: string[] = [];
function track(name: string): string {
  created.push(name);
  return name;
}
afterAll(async () => {
  await Promise.all(created.map(dropTable));
});

const times = (nowMs: number) => ({ createdAt: nowMs, lastAccessedAt: nowMs, expiresAt: Math.floor(nowMs / 1000) + 1800 });

describe('DynamoDbStore table bootstrap', () => {
  it('creates a missing table on demand billing with TTL enabled on expiresAt', async () => {
    const { tableName, raw } = await storeOnNewTable({ tableName: track(randomTableName()) });
    const { Table } = await raw.send(new DescribeTableCommand({ TableName: tableName }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(Table?.KeySchema).toEqual(LAYOUT === 'split'
      ? [{ AttributeName: 'sessionId', KeyType: 'HASH' }, { AttributeName: 'part', KeyType: 'RANGE' }]
      : [{ AttributeName: 'sessionId', KeyType: 'HASH' }]);
    const ttl = await raw.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    expect(ttl.TimeToLiveDescription).toEqual({ AttributeName: 'expiresAt', TimeToLiveStatus: 'ENABLED' });
  });

  it('provisions the capacity units given (ReadCapacityUnits/WriteCapacityUnits of the AWS Tomcat manager)', async () => {
    const { tableName, raw } = await storeOnNewTable({ tableName: track(randomTableName()), readCapacityUnits: 10, writeCapacityUnits: 5 });
    const { Table } = await raw.send(new DescribeTableCommand({ TableName: tableName }));
    expect(Table?.ProvisionedThroughput).toMatchObject({ ReadCapacityUnits: 10, WriteCapacityUnits: 5 });
  });

  it("computes capacity from EnergyHub's requestsPerSecond and sessionSize", async () => {
    // 20 rps of 6 kB sessions: reads 20 x ceil(6/4) = 40, writes 20 x 6 = 120
    const { tableName, raw } = await storeOnNewTable({ tableName: track(randomTableName()), requestsPerSecond: 20, sessionSize: 6 });
    const { Table } = await raw.send(new DescribeTableCommand({ TableName: tableName }));
    expect(Table?.ProvisionedThroughput).toMatchObject({ ReadCapacityUnits: 40, WriteCapacityUnits: 120 });
  });

  it('with createIfNotExist: false, a missing table fails startup with TableNotFoundError naming table, region and the fix', async () => {
    const tableName = randomTableName();
    const store = new DynamoDbStore({ tableName, createIfNotExist: false, client: localClient(), region: undefined }, quietLogger);
    const failure = store.ready();
    await expect(failure).rejects.toThrow(TableNotFoundError);
    await expect(failure).rejects.toThrow(new RegExp(`"${tableName}" does not exist .*npx dynamo-session create-table --table ${tableName}`));
    await expect(store.get('k')).rejects.toMatchObject({ status: 503 });
  });

  it('a missing table names the region the client really uses, and the endpoint, so the printed command reaches it', async () => {
    const tableName = randomTableName();
    // The region comes from the given client's own configuration, not from this process's environment.
    const viaClient = new DynamoDbStore({ tableName, createIfNotExist: false, client: localClient() }, quietLogger);
    await expect(viaClient.ready()).rejects.toThrow(`create-table --table ${tableName} --region ${LOCAL_REGION} (`);
    const viaEndpoint = new DynamoDbStore(
      { tableName, createIfNotExist: false, endpoint: endpoint(), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }, quietLogger,
    );
    await expect(viaEndpoint.ready()).rejects.toThrow(
      `DynamoDB table "${tableName}" does not exist in region ${LOCAL_REGION} at ${endpoint()}. ` +
        `Create it with: npx dynamo-session create-table --table ${tableName} --region ${LOCAL_REGION} --endpoint ${endpoint()} (`,
    );
  });

  it('refuses a table whose key is not a string sessionId', async () => {
    const tableName = track(randomTableName());
    const raw = localClient();
    await raw.send(new CreateTableCommand({
      TableName: tableName, BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    }));
    const store = new DynamoDbStore({ tableName, client: raw }, quietLogger);
    await expect(store.ready()).rejects.toThrow(
      /has key id \(HASH\); a session table needs a string partition key "sessionId" and either no sort key \(layout 'single'\) or a string sort key "part" \(layout 'split'\)/,
    );
  });

  it('two stores starting at once on a missing table both become ready', async () => {
    const tableName = track(randomTableName());
    const a = new DynamoDbStore({ tableName, client: localClient() });
    const b = new DynamoDbStore({ tableName, client: localClient() });
    await expect(Promise.all([a.ready(), b.ready()])).resolves.toEqual([undefined, undefined]);
  });
});


describe('DynamoDbStore reads and writes', () => {
  it('round-trips text and binary values, applies deltas and bumps the version', async () => {
    const { store, tableName } = await storeOnNewTable({ tableName: track(randomTableName()) });
    const now = Date.now();
    await store.create('k1', { ...times(now), data: { a: '"1"', bin: new Uint8Array([2, 0, 255]) } });
    expect(await store.update('k1', { set: new Map([['b', '"2"']]), remove: ['a'], lastAccessedAt: now + 1, expiresAt: times(now).expiresAt + 1, now })).toEqual({ status: 'stored' });
    const item = await store.get('k1');
    expect(item).toEqual({ ...times(now), lastAccessedAt: now + 1, expiresAt: times(now).expiresAt + 1, version: 2, absoluteExpiresAt: undefined, lockOwner: undefined, lockExpires: undefined, data: { b: '"2"', bin: new Uint8Array([2, 0, 255]) } });
    await store.destroy('k1');
    expect(await store.get('k1')).toBeUndefined();
    void tableName;
  });

  it('does not write to a missing or expired item', async () => {
    const { store, log } = await storeOnNewTable({ tableName: track(randomTableName()) });
    const now = Date.now();
    const update = { set: new Map([['a', '"x"']]), remove: [], lastAccessedAt: now, expiresAt: times(now).expiresAt, now };
    expect(await store.update('missing', update)).toEqual({ status: 'gone' });
    await store.create('old', { ...times(now - 3_600_000), data: { a: '"1"' } });
    expect(await store.update('old', update)).toEqual({ status: 'gone' });
    expect((await store.get('old'))?.data).toEqual({ a: '"1"' });
    expect(await store.get('missing')).toBeUndefined(); // not resurrected
    expect(log.count('UpdateItem')).toBe(3);
  });

  it('uses eventually consistent reads when eventualConsistency is set', async () => {
    const { store, log } = await storeOnNewTable({ tableName: track(randomTableName()), eventualConsistency: true });
    await store.get('k');
    expect(log.inputs.find((c) => c.command === READ_CALL)?.input['ConsistentRead']).toBe(false);
  });

  it('keeps apps with different keyPrefix apart on one table', async () => {
    const tableName = track(randomTableName());
    const { store: a } = await storeOnNewTable({ tableName, keyPrefix: 'shop:' });
    const { store: b } = await storeOnNewTable({ tableName, keyPrefix: 'admin:' });
    await a.create('same-key', { ...times(Date.now()), data: { who: '"shop"' } });
    expect(await b.get('same-key')).toBeUndefined();
    expect((await a.get('same-key'))?.data).toEqual({ who: '"shop"' });
  });

  it('a table deleted under a running store gives a 503 TableNotFoundError, and works again once it is back', async () => {
    const tableName = track(randomTableName());
    const { store } = await storeOnNewTable({ tableName });
    await dropTable(tableName);
    await expect(store.get('k')).rejects.toThrow(TableNotFoundError);
    await (await storeOnNewTable({ tableName })).store.ready();
    await expect(store.get('k')).resolves.toBeUndefined();
  });

  it('an unreachable endpoint gives SessionStoreUnavailableError within the deadline', async () => {
    const store = new DynamoDbStore({ endpoint: 'http://127.0.0.1:9', region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, readTimeout: 500, maxAttempts: 2 }, quietLogger);
    const started = Date.now();
    await expect(store.get('k')).rejects.toThrow(SessionStoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('DynamoDbStore: an item DynamoDB itself refuses as too large (ValidationException about item size)', () => {
  const big = (tag: string, kb = 300) => JSON.stringify(`${tag}:${'x'.repeat(kb * 1024)}`);
  // Split, each large attribute has an item of its own: only one over 400 KB on its own is refused.
  const second = LAYOUT === 'split' ? 410 : 300;

  it('create and update answer SessionTooLargeError (413), name no session data, and leave the stored session as it was', async () => {
    const { store } = await storeOnNewTable({ tableName: track(randomTableName()), keyPrefix: 'app-with-a-long-prefix:'.repeat(20) });
    const now = Date.now();
    // Over 400 KB at once: "Item size to update has exceeded the maximum allowed size".
    const tooBig = await store.create('k', { ...times(now), data: { a: big('secret-a'), b: big('secret-b', second) } }).catch((e: unknown) => e);
    expect(tooBig).toBeInstanceOf(SessionTooLargeError);
    expect(tooBig).toMatchObject({ status: 413 });
    expect((tooBig as Error).message).not.toContain('secret-a');
    expect((tooBig as Error).message).toMatch(/DynamoDB refused UpdateItem .*400 KB item size limit; nothing was written/);
    expect(await store.get('k')).toBeUndefined();

    // Each write fits, the item after the second does not.
    await store.create('k', { ...times(now), data: { a: big('secret-a') } });
    const grown = await store.update('k', { set: new Map([['b', big('secret-b', second)]]), remove: [], lastAccessedAt: now, expiresAt: times(now).expiresAt, now }).catch((e: unknown) => e);
    expect(grown).toBeInstanceOf(SessionTooLargeError);
    expect((grown as Error).message).not.toContain('secret-b');
    expect(Object.keys((await store.get('k'))?.data ?? {})).toEqual(['a']);
  });
});

describe('DynamoDbStore credentials and options', () => {
  it('works with Tomcat-style awsAccessKey/awsSecretKey and with endpoint + region', async () => {
    const tableName = track(randomTableName());
    const store = new DynamoDbStore({ tableName, endpoint: endpoint(), region: LOCAL_REGION, awsAccessKey: 'AKIDEXAMPLE', awsSecretKey: 'secret' });
    await store.ready();
    await store.create('k', { ...times(Date.now()), data: { a: '"1"' } });
    expect((await store.get('k'))?.data).toEqual({ a: '"1"' });
  });

  it('reads the AWS Tomcat manager credentials properties file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'creds-'));
    const file = join(dir, 'AwsCredentials.properties');
    writeFileSync(file, '# AwsCredentialsFile format\naccessKey = AKIDFROMFILE\nsecretKey=from-file\n');
    const tableName = track(randomTableName());
    const store = new DynamoDbStore({ tableName, endpoint: endpoint(), region: LOCAL_REGION, awsCredentialsFile: file });
    await store.ready();
    const credentials = await store.client.config.credentials();
    expect(credentials).toMatchObject({ accessKeyId: 'AKIDFROMFILE', secretAccessKey: 'from-file' });
  });

  it('fails at construction for a missing or malformed credentials file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'creds-'));
    const malformed = join(dir, 'bad.properties');
    writeFileSync(malformed, 'accessKey=only\n');
    expect(() => new DynamoDbStore({ awsCredentialsFile: join(dir, 'missing.properties') })).toThrow(/cannot be read \(ENOENT\)/);
    expect(() => new DynamoDbStore({ awsCredentialsFile: malformed })).toThrow(/must define accessKey= and secretKey= \(missing: secretKey\)/);
  });

  it('reports every invalid store option at once', () => {
    let error: SessionConfigError | undefined;
    try {
      new DynamoDbStore({ tableName: 'x', client: localClient(), region: 'eu-west-1', readCapacityUnits: 5, awsAccessKey: 'a', endpoint: 'not a url' });
    } catch (e) {
      error = e as SessionConfigError;
    }
    expect(error?.problems).toEqual([
      expect.stringContaining('tableName must be 3-255'),
      expect.stringContaining('client is given, so region, endpoint, awsAccessKey would be ignored'),
      expect.stringContaining('endpoint must be a URL'),
      'awsAccessKey and awsSecretKey go together',
      'readCapacityUnits and writeCapacityUnits go together',
    ]);
  });
});
