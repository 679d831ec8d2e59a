import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTable } from './create-table';
import { describeTable } from './describe-table';
import { purgeExpired } from './purge-expired';
import type { CliOutput } from './cli-output';
import { ATTR } from '../store/dynamodb/item-attributes';

const USAGE = `Usage: dynamo-session <command> --table NAME [--region REGION] [--endpoint URL]

Commands:
  create-table    create the session table (on-demand, or --read-capacity/--write-capacity) with TTL on ${ATTR.expiresAt},
                  in the split item layout (--layout single: one item per session);
                  on an existing table, enable TTL on ${ATTR.expiresAt} if it is off
  describe        item layout, billing mode, TTL status (warns unless it is on ${ATTR.expiresAt}), approximate item count and size
  purge-expired   delete items whose ${ATTR.expiresAt} has passed, for tables without TTL (--dry-run to count only)
`;

/** The CLI as a function, so tests run it in-process. Resolves with the exit code. */
export async function runCli(argv: readonly string[], out: CliOutput, now: () => number = Date.now): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        table: { type: 'string' }, region: { type: 'string' }, endpoint: { type: 'string' },
        'read-capacity': { type: 'string' }, 'write-capacity': { type: 'string' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean' },
        layout: { type: 'string' },
      },
    });
  } catch (e) {
    out.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || !command) {
    if (values.help) out.log(USAGE);
    else out.error(USAGE);
    return values.help ? 0 : 2;
  }
  if (!values.table) {
    out.error(`--table is required\n${USAGE}`);
    return 2;
  }
  const layout = values.layout;
  if (layout !== undefined && layout !== 'single' && layout !== 'split') {
    out.error(`--layout must be single or split, got "${layout}"\n${USAGE}`);
    return 2;
  }
  const client = new DynamoDBClient({
    ...(values.region !== undefined && { region: values.region }),
    ...(values.endpoint !== undefined && { endpoint: values.endpoint }),
  });
  try {
    switch (command) {
      case 'create-table':
        await createTable(client, values.table, capacity(values['read-capacity'], values['write-capacity']), layout, out);
        return 0;
      case 'describe':
        await describeTable(client, values.table, out);
        return 0;
      case 'purge-expired':
        await purgeExpired(client, values.table, now, values['dry-run'] === true, out);
        return 0;
      default:
        out.error(`unknown command "${command}"\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    out.error(`${command} failed: ${(e as Error).name}: ${(e as Error).message}`);
    return 1;
  } finally {
    client.destroy();
  }
}

function capacity(read: string | undefined, write: string | undefined): { read: number; write: number } | undefined {
  if (read === undefined && write === undefined) return undefined;
  const r = Number(read);
  const w = Number(write);
  if (!Number.isInteger(r) || !Number.isInteger(w) || r <= 0 || w <= 0) throw new Error('--read-capacity and --write-capacity go together, as positive whole numbers');
  return { read: r, write: w };
}
