import { CreateTableCommand, DescribeTimeToLiveCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbStore, Logger } from '../../../lib';
import { createTableInput } from '../../../lib/store/dynamodb/table-bootstrap';
import { dropTable, localClient, randomTableName, LAYOUT } from '../../support/dynamodb';

/** A table as IaC (or a first start that died between CreateTable and UpdateTimeToLive) leaves it: no TTL. */
async function tableWithoutTtl(ttlAttribute?: string): Promise<string> {
  const tableName = randomTableName('ttl');
  const raw = localClient();
  await raw.send(new CreateTableCommand(createTableInput({ tableName, billing: { mode: 'PAY_PER_REQUEST' }, layout: LAYOUT })));
  if (ttlAttribute) await raw.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true } }));
  return tableName;
}

async function ttlOf(tableName: string) {
  return (await localClient().send(new DescribeTimeToLiveCommand({ TableName: tableName }))).TimeToLiveDescription;
}

function capturingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error: (m: string) => void warnings.push(`ERROR ${m}`) };
}

describe('ready() checks TTL on an existing table', () => {
  const tables: string[] = [];
  afterAll(async () => {
    for (const t of tables) await dropTable(t);
  });

  it('createIfNotExist (default true): enables TTL on expiresAt', async () => {
    const tableName = await tableWithoutTtl();
    tables.push(tableName);
    expect(await ttlOf(tableName)).toEqual({ TimeToLiveStatus: 'DISABLED' });
    const logger = capturingLogger();
    await new DynamoDbStore({ tableName, client: localClient() }, logger).ready();
    expect(await ttlOf(tableName)).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
    expect(logger.warnings).toEqual([]);
  });

  it('createIfNotExist: false: warns naming the table and the fix, and changes nothing', async () => {
    const tableName = await tableWithoutTtl();
    tables.push(tableName);
    const logger = capturingLogger();
    await new DynamoDbStore({ tableName, client: localClient(), createIfNotExist: false, region: undefined }, logger).ready();
    expect(await ttlOf(tableName)).toEqual({ TimeToLiveStatus: 'DISABLED' });
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toContain(`"${tableName}"`);
    expect(logger.warnings[0]).toMatch(/TTL is DISABLED/);
    expect(logger.warnings[0]).toContain(`aws dynamodb update-time-to-live --table-name ${tableName} --time-to-live-specification Enabled=true,AttributeName=expiresAt`);
  });

  it('TTL on another attribute: warns and leaves it, whatever createIfNotExist says', async () => {
    for (const createIfNotExist of [true, false]) {
      const tableName = await tableWithoutTtl('deleteAfter');
      tables.push(tableName);
      const logger = capturingLogger();
      await new DynamoDbStore({ tableName, client: localClient(), createIfNotExist }, logger).ready();
      expect(await ttlOf(tableName)).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'deleteAfter' });
      expect(logger.warnings).toEqual([expect.stringMatching(/TTL is ENABLED on "deleteAfter", not on "expiresAt"/)]);
    }
  });

  it('a table with TTL on expiresAt: no warning, no change', async () => {
    const tableName = await tableWithoutTtl('expiresAt');
    tables.push(tableName);
    const logger = capturingLogger();
    await new DynamoDbStore({ tableName, client: localClient(), createIfNotExist: false }, logger).ready();
    expect(logger.warnings).toEqual([]);
  });
});
