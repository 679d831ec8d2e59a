import { expect } from '@jest/globals';
import { CreateTableCommand, DescribeTableCommand, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbStore } from '../../../lib';
import { createTableInput } from '../../../lib/store/dynamodb/table-bootstrap';
import { dropTable, LAYOUT, localClient, randomTableName } from '../../support/dynamodb';
import { LAYOUT_OPTIONS } from '../../support/layout';
import { quietLogger } from '../../support/quiet-logger';
import { testManager } from '../../support/manager';

/**
 * Tables made before account controls have the principal index under its old name, projecting no client info.
 * They keep working, and docs/dynamodb.md ("Moving to the principal-sessions index") moves them; this follows its steps.
 */
describe('a table with the legacy principal-index', () => {
  const client = localClient();
  const tables: string[] = [];
  afterAll(async () => {
    for (const table of tables) await dropTable(table);
    client.destroy();
  });

  /** A table as create-table made it before: principal-index, projecting the times (and, split, the part registry). */
  async function legacyTable(withIndex = true): Promise<string> {
    const tableName = randomTableName('legacy');
    tables.push(tableName);
    const input = createTableInput({ tableName, billing: { mode: 'PAY_PER_REQUEST' }, layout: LAYOUT });
    const legacy = { ...input.GlobalSecondaryIndexes![0]!, IndexName: 'principal-index', Projection: { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: legacyProjection() } };
    await client.send(new CreateTableCommand({
      ...input,
      ...(withIndex ? { GlobalSecondaryIndexes: [legacy] } : { GlobalSecondaryIndexes: undefined, AttributeDefinitions: input.AttributeDefinitions!.filter((d) => d.AttributeName !== 'principal') }),
    }));
    return tableName;
  }
  const legacyProjection = () => ['createdAt', 'lastAccessedAt', 'expiresAt', ...(LAYOUT === 'split' ? ['parts'] : [])];

  async function waitForIndex(tableName: string, indexName: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      if (Table?.GlobalSecondaryIndexes?.find((g) => g.IndexName === indexName)?.IndexStatus === 'ACTIVE') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${indexName} never became ACTIVE`);
  }

  async function loginFrom(store: DynamoDbStore, userAgent: string) {
    const t = testManager({ recordClientInfo: true }, store);
    await t.run((s) => s.login('ada'), { headers: { 'user-agent': userAgent } });
    return t;
  }

  it('keeps working without client info, says how to move at startup, and after the documented move lists the client', async () => {
    const tableName = await legacyTable();
    const info: string[] = [];
    const before = new DynamoDbStore({ ...LAYOUT_OPTIONS, tableName, client }, { ...quietLogger, info: (m: string) => info.push(m) });
    await before.ready();
    expect(info).toContainEqual(expect.stringContaining('has the principal-index index, which projects no client info'));
    const laptop = await loginFrom(before, 'Laptop/1');
    const phone = await loginFrom(before, 'Phone/1');
    await laptop.run(async (s) => {
      const others = await s.otherSessions();
      expect(others).toHaveLength(1);
      expect(others[0]).not.toHaveProperty('userAgent'); // recorded on the item, but the old index does not carry it
    });

    // The documented move: add principal-sessions beside it, wait until ACTIVE, restart, then drop principal-index.
    await client.send(new UpdateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'principal', AttributeType: 'S' }],
      GlobalSecondaryIndexUpdates: [{ Create: createTableInput({ tableName, billing: { mode: 'PAY_PER_REQUEST' }, layout: LAYOUT }).GlobalSecondaryIndexes![0]! }],
    }));
    await waitForIndex(tableName, 'principal-sessions');
    const after = new DynamoDbStore({ ...LAYOUT_OPTIONS, tableName, client });
    await after.ready();
    await client.send(new UpdateTableCommand({ TableName: tableName, GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: 'principal-index' } }] }));
    const t = testManager({ recordClientInfo: true }, after);
    t.setCookie(phone.cookie());
    await t.run(async (s) => {
      expect((await s.otherSessions()).map((o) => o.userAgent)).toEqual(['Laptop/1']);
    });
    // A process started before the move, still on principal-index when it was dropped, finds its way to the new one.
    for (let i = 0; i < 100; i++) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      if (!Table?.GlobalSecondaryIndexes?.some((g) => g.IndexName === 'principal-index')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await before.findByPrincipal('ada')).map((f) => f.userAgent).sort()).toEqual(['Laptop/1', 'Phone/1']);
    expect(await after.destroyByPrincipal('ada')).toBe(2);
  });

  it('a table that gets the legacy index after the store started (a rotated table of that time) is queried through it', async () => {
    const tableName = await legacyTable(false);
    const store = new DynamoDbStore({ ...LAYOUT_OPTIONS, tableName, client });
    await store.ready();
    await client.send(new UpdateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'principal', AttributeType: 'S' }],
      GlobalSecondaryIndexUpdates: [{
        Create: { IndexName: 'principal-index', KeySchema: [{ AttributeName: 'principal', KeyType: 'HASH' }], Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: legacyProjection() } },
      }],
    }));
    await waitForIndex(tableName, 'principal-index');
    await loginFrom(store, 'Laptop/1');
    expect(await store.findByPrincipal('ada')).toEqual([expect.objectContaining({ createdAt: expect.any(Number) })]);
  });
});
