import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * A principal index that lags, on DynamoDB Local (which updates its indexes at once): `freeze(read)` runs
 * `read` and remembers every answer of an index Query it made; from then on, index Queries of the same user
 * and page get those answers again, as a global secondary index that has not caught up yet may give them.
 * Reads of the table itself are never touched. `thaw()` lets the index answer as it is again.
 */
export function frozenIndex(client: DynamoDBClient): { freeze(read: () => Promise<unknown>): Promise<void>; thaw(): void } {
  const answers = new Map<string, unknown>();
  let recording = false;
  let frozen = false;
  const pageOf = (input: Record<string, unknown>): string => JSON.stringify([input['ExpressionAttributeValues'], input['ExclusiveStartKey'] ?? null]);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      if (context.commandName !== 'QueryCommand' || input['IndexName'] === undefined) return next(args);
      const page = pageOf(input);
      if (frozen && answers.has(page)) return { output: answers.get(page), response: {} } as Awaited<ReturnType<typeof next>>;
      const result = await next(args);
      if (recording) answers.set(page, result.output);
      return result;
    },
    { step: 'initialize', name: 'frozenIndex' },
  );
  return {
    async freeze(read) {
      recording = true;
      try {
        await read();
      } finally {
        recording = false;
      }
      frozen = true;
    },
    thaw() {
      frozen = false;
      answers.clear();
    },
  };
}
