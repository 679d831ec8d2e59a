import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDbStore } from '../../lib';
import { runCli } from '../../lib/cli';
import { CallLog, dropTable, endpoint, localClient, randomTableName, storeOnNewTable } from '../support/dynamodb';
import { testManager } from '../support/manager';

/** The page that documents the IAM policies (docs/dynamodb.md, "IAM policies"). */
const POLICY_PAGE = join(__dirname, '..', '..', 'docs', 'dynamodb.md');

/** The actions of the policy block marked `<!-- iam:NAME -->` in docs/dynamodb.md. */
function policyActions(name: string): string[] {
  const page = readFileSync(POLICY_PAGE, 'utf8');
  const block = new RegExp(`<!-- iam:${name} -->\\s*\`\`\`json\\n([\\s\\S]*?)\`\`\``).exec(page);
  if (!block) throw new Error(`docs/dynamodb.md has no <!-- iam:${name} --> policy`);
  const policy = JSON.parse(block[1]!) as { Statement: Array<{ Action: string[] }> };
  return policy.Statement.flatMap((s) => s.Action).map((a) => a.replace(/^dynamodb:/, '')).sort();
}

/** Every DynamoDB operation a running app performs on an existing table. */
async function exerciseApp(store: DynamoDbStore): Promise<void> {
  const t = testManager({ locking: { uriPattern: 'POST /.*' } }, store);
  await t.run((s) => {
    s['cart'] = ['tea'];
    s['profile'] = 'p'.repeat(1000); // over partThreshold: in the split layout its own item, deleted in a batch
    s.setPrincipal('ada');
  });
  await t.run((s) => void (s['cart'] = ['tea', 'scones']), { method: 'POST', path: '/cart' });
  await t.run((s) => s.regenerate());
  await store.findByPrincipal('ada');
  await store.destroyByPrincipal('ada');
}

describe("docs/dynamodb.md's IAM policies list exactly the DynamoDB actions the code calls", () => {
  const tables: string[] = [];
  afterAll(async () => {
    for (const table of tables) await dropTable(table);
  });

  it('application policy: an app on an existing table (createIfNotExist: false), in either item layout', async () => {
    // The layouts read differently (GetItem, Query): the policy covers both, so both run here.
    const log = new CallLog();
    for (const layout of ['single', 'split'] as const) {
      const { tableName } = await storeOnNewTable({ layout });
      tables.push(tableName);
      const store = new DynamoDbStore({ tableName, createIfNotExist: false, client: localClient(log) });
      await store.ready();
      await exerciseApp(store);
    }
    expect([...new Set(log.calls)].sort()).toEqual(policyActions('app'));
  });

  it('application + table management policies: table creation, rotation and the CLI', async () => {
    const log = new CallLog();
    const tableName = randomTableName('iam');
    tables.push(tableName);
    const store = new DynamoDbStore({ tableName, client: localClient(log), layout: 'single' });
    await store.ready();
    await exerciseApp(store);
    const splitTable = randomTableName('iam');
    tables.push(splitTable);
    const split = new DynamoDbStore({ tableName: splitTable, client: localClient(log) });
    await split.ready();
    await exerciseApp(split);

    const base = randomTableName('iam-rot');
    const clock = { now: Date.UTC(2030, 0, 1) };
    const rotating = new DynamoDbStore({ expiry: 'rotation', tableBaseName: base, rotationPeriod: 3600, client: localClient(log), now: () => clock.now });
    await rotating.ready();
    clock.now += 3 * 3600_000;
    await rotating.rotate(); // creates the new period's table, drops the stale one
    rotating.close();
    tables.push(`${base}_${Math.floor(clock.now / 1000) - (Math.floor(clock.now / 1000) % 3600)}`);

    // The CLI builds its own client; its commands are read from its source, and it runs to show they work.
    process.env['AWS_ACCESS_KEY_ID'] = 'local';
    process.env['AWS_SECRET_ACCESS_KEY'] = 'local';
    const out = { log() {}, error() {} };
    const cliDir = join(__dirname, '..', '..', 'lib', 'cli');
    const cliCommands = readdirSync(cliDir).flatMap((f) => [...readFileSync(join(cliDir, f), 'utf8').matchAll(/new (\w+)Command\(/g)].map((m) => m[1]!));
    expect(cliCommands.length).toBeGreaterThan(0);
    expect(await runCli(['describe', '--table', tableName, '--endpoint', endpoint(), '--region', 'us-east-1'], out)).toBe(0);
    expect(await runCli(['purge-expired', '--table', tableName, '--endpoint', endpoint(), '--region', 'us-east-1'], out)).toBe(0);

    const used = new Set([...log.calls, ...cliCommands]);
    expect([...used].sort()).toEqual([...new Set([...policyActions('app'), ...policyActions('admin')])].sort());
  });
});
