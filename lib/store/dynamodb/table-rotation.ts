import { DeleteTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type { Logger } from '../../core/logger';
import type { Billing } from './resolve-options';
import { ensureTable } from './table-bootstrap';

export interface RotationSpec {
  readonly tableBaseName: string;
  /** Seconds; the session idle timeout, as in EnergyHub's DynamoTableRotator. */
  readonly period: number;
  readonly billing: Billing;
  readonly readyTimeoutSeconds: number;
  /** Epoch milliseconds. */
  readonly now: () => number;
}

/**
 * Which table is current and previous, and the upkeep: create the next table
 * ahead of its period, delete tables older than the previous one. Several app
 * instances may do this at once; a table another instance created or deleted
 * first is not an error.
 */
export class TableRotation {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly spec: RotationSpec,
    private readonly logger: Logger,
  ) {}

  /** Period start (epoch seconds) of the period containing `nowMs`. */
  periodStart(nowMs: number): number {
    const seconds = Math.floor(nowMs / 1000);
    return seconds - (seconds % this.spec.period);
  }

  tableFor(periodStart: number): string {
    return `${this.spec.tableBaseName}_${periodStart}`;
  }

  current(): string {
    return this.tableFor(this.periodStart(this.spec.now()));
  }

  previous(): string {
    return this.tableFor(this.periodStart(this.spec.now()) - this.spec.period);
  }

  next(): string {
    return this.tableFor(this.periodStart(this.spec.now()) + this.spec.period);
  }

  /** How far ahead of a boundary the next table is created: table creation can take a minute on AWS. */
  get leadSeconds(): number {
    return Math.min(Math.max(120, this.spec.period / 10), this.spec.period / 2);
  }

  /** Makes the current table (and the next, near the boundary) exist and drops expired ones. */
  async rotate(): Promise<void> {
    const start = this.periodStart(this.spec.now());
    const wanted = [start];
    if (start + this.spec.period - Math.floor(this.spec.now() / 1000) <= this.leadSeconds) wanted.push(start + this.spec.period);
    for (const periodStart of wanted) {
      await ensureTable(this.client, {
        tableName: this.tableFor(periodStart), billing: this.spec.billing,
        createIfNotExist: true, readyTimeoutSeconds: this.spec.readyTimeoutSeconds, enableTtl: false, layout: 'single',
      }, this.logger);
    }
    for (const table of await this.rotatedTables()) {
      if (table.periodStart < start - this.spec.period) await this.drop(table.name);
    }
  }

  private async drop(tableName: string): Promise<void> {
    try {
      await this.client.send(new DeleteTableCommand({ TableName: tableName }));
      this.logger.info(`deleted expired session table ${tableName}`);
    } catch (e) {
      const name = (e as Error).name;
      // Another instance is deleting it, or already did.
      if (name !== 'ResourceNotFoundException' && name !== 'ResourceInUseException') throw e;
    }
  }

  private async rotatedTables(): Promise<Array<{ name: string; periodStart: number }>> {
    const pattern = new RegExp(`^${this.spec.tableBaseName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_(\\d+)$`);
    const tables: Array<{ name: string; periodStart: number }> = [];
    let start: string | undefined;
    do {
      const page = await this.client.send(new ListTablesCommand({ ...(start && { ExclusiveStartTableName: start }) }));
      for (const name of page.TableNames ?? []) {
        const match = pattern.exec(name);
        if (match) tables.push({ name, periodStart: Number(match[1]) });
      }
      start = page.LastEvaluatedTableName;
    } while (start);
    return tables;
  }
}
