import { AttributeValue, CreateTableCommand, PutItemCommand, DescribeTimeToLiveCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { runCli } from '../../lib/cli';
import { createTableInput } from '../../lib/store/dynamodb/table-bootstrap';
import { dropTable, endpoint, localClient, randomTableName, scanItems, LAYOUT } from '../support/dynamodb';

describe('npx dynamo-session (CLI) against DynamoDB Local', () => {
  const table = randomTableName('cli');
  const lines: string[] = [];
  const errors: string[] = [];
  const out = { log: (l: string) => lines.push(l), error: (l: string) => errors.push(l) };
  const common = ['--table', table, '--endpoint', endpoint(), '--region', 'us-east-1'];
  beforeAll(() => {
    process.env['AWS_ACCESS_KEY_ID'] = 'local';
    process.env['AWS_SECRET_ACCESS_KEY'] = 'local';
  });
  beforeEach(() => {
    lines.length = 0;
    errors.length = 0;
  });
  afterAll(() => dropTable(table));

  it('create-table creates the table in the layout asked for with TTL on expiresAt', async () => {
    expect(await runCli(['create-table', ...common, '--layout', LAYOUT], out)).toBe(0);
    expect(lines).toEqual([`table ${table} is ACTIVE (PAY_PER_REQUEST, ${LAYOUT} layout), TTL on expiresAt`]);
    const ttl = await localClient().send(new DescribeTimeToLiveCommand({ TableName: table }));
    expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('ENABLED');
  });

  it('describe prints billing, TTL and the item estimate', async () => {
    expect(await runCli(['describe', ...common], out)).toBe(0);
    expect(lines).toEqual(expect.arrayContaining([`table: ${table}`, expect.stringMatching(new RegExp(`^layout: ${LAYOUT} \\(`)), 'billing: PAY_PER_REQUEST', 'ttl: ENABLED on expiresAt', expect.stringMatching(/^items \(estimate\): \d+$/)]));
  });

  it('describe shows the real TTL status with the fix when TTL is off; create-table on that existing table enables it', async () => {
    const bare = randomTableName('cli-ttl');
    await localClient().send(new CreateTableCommand(createTableInput({ tableName: bare, billing: { mode: 'PAY_PER_REQUEST' }, layout: LAYOUT })));
    const args = ['--table', bare, '--endpoint', endpoint(), '--region', 'us-east-1'];
    try {
      expect(await runCli(['describe', ...args], out)).toBe(0);
      expect(lines).toContain('ttl: DISABLED');
      expect(errors).toEqual([expect.stringMatching(new RegExp(`^warning: TTL is DISABLED on DynamoDB table "${bare}".*update-time-to-live --table-name ${bare} `))]);
      lines.length = 0;
      errors.length = 0;
      expect(await runCli(['create-table', ...args], out)).toBe(0);
      expect(lines).toEqual([`table ${bare} already exists (ACTIVE, ${LAYOUT} layout); TTL ENABLED on expiresAt`]);
      lines.length = 0;
      expect(await runCli(['describe', ...args], out)).toBe(0);
      expect(lines).toContain('ttl: ENABLED on expiresAt');
      expect(errors).toEqual([]);
    } finally {
      await dropTable(bare);
    }
  });

  it('describe warns when TTL is on another attribute than expiresAt, and create-table leaves it', async () => {
    const other = randomTableName('cli-ttl');
    const client = localClient();
    await client.send(new CreateTableCommand(createTableInput({ tableName: other, billing: { mode: 'PAY_PER_REQUEST' }, layout: LAYOUT })));
    await client.send(new UpdateTimeToLiveCommand({ TableName: other, TimeToLiveSpecification: { AttributeName: 'deleteAfter', Enabled: true } }));
    const args = ['--table', other, '--endpoint', endpoint(), '--region', 'us-east-1'];
    try {
      expect(await runCli(['describe', ...args], out)).toBe(0);
      expect(lines).toContain('ttl: ENABLED on deleteAfter');
      expect(errors).toEqual([expect.stringMatching(/^warning: TTL is ENABLED on "deleteAfter", not on "expiresAt"/)]);
      lines.length = 0;
      errors.length = 0;
      expect(await runCli(['create-table', ...args], out)).toBe(0);
      expect(lines).toEqual([`table ${other} already exists (ACTIVE, ${LAYOUT} layout); TTL ENABLED on deleteAfter`]);
      expect(errors).toEqual([expect.stringMatching(/^warning: TTL is ENABLED on "deleteAfter"/)]);
    } finally {
      await dropTable(other);
    }
  });

  it('purge-expired deletes only expired items, across pages, and --dry-run only counts', async () => {
    const now = Date.UTC(2030, 0, 1);
    const client = localClient();
    for (let i = 0; i < 60; i++) {
      const expiresAt = Math.floor(now / 1000) + (i < 40 ? -10 : 600); // 40 expired, 20 live
      const key: Record<string, AttributeValue> = LAYOUT === 'split' ? { sessionId: { S: `s${i >> 1}` }, part: { S: i % 2 === 0 ? '#' : 'a#pad' } } : { sessionId: { S: `s${i}` } };
      await client.send(new PutItemCommand({ TableName: table, Item: { ...key, expiresAt: { N: String(expiresAt) }, pad: { S: 'x'.repeat(20_000) } } }));
    }
    expect(await runCli(['purge-expired', '--dry-run', ...common], out, () => now)).toBe(0);
    expect(lines.at(-1)).toBe('would delete 40 expired items (scanned 60 items)');
    expect(await scanItems(table)).toHaveLength(60);
    expect(await runCli(['purge-expired', ...common], out, () => now)).toBe(0);
    expect(lines.at(-1)).toBe('deleted 40 expired items (scanned 60 items)');
    const left = await scanItems(table);
    expect(left).toHaveLength(20);
    expect(left.every((i) => Number(i['expiresAt']) > now / 1000)).toBe(true);
  });

  it('explains usage errors with exit code 2', async () => {
    expect(await runCli(['describe'], out)).toBe(2);
    expect(errors[0]).toMatch(/--table is required/);
    expect(await runCli(['frobnicate', '--table', 'x'], out)).toBe(2);
    expect(errors[1]).toMatch(/unknown command "frobnicate"/);
    expect(await runCli(['--help'], out)).toBe(0);
  });

  it('reports a missing table with exit code 1', async () => {
    expect(await runCli(['describe', '--table', 'no-such-table', '--endpoint', endpoint(), '--region', 'us-east-1'], out)).toBe(1);
    expect(errors[0]).toMatch(/describe failed: ResourceNotFoundException/);
  });
});
