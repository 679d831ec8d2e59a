import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { localClient, scanItems } from '../support/dynamodb';

/**
 * Moves the last login of every session of `principal` in the table `seconds` into the past, as if that
 * much time had gone by since session.login(): the samples' 5-minute rule is then tested as configured,
 * without waiting and without a clock in the sample. Works on both layouts (a split session's head holds it).
 * Returns how many sessions it aged.
 */
export async function ageLogins(tableName: string, principal: string, seconds: number): Promise<number> {
  const heads = (await scanItems(tableName)).filter((item) => item['principal'] === principal && typeof item['authenticatedAt'] === 'number');
  const text = (value: unknown): string => value as string; // the key attributes are strings
  const client = localClient();
  try {
    for (const head of heads) {
      await client.send(new UpdateItemCommand({
        TableName: tableName,
        Key: { sessionId: { S: text(head['sessionId']) }, ...(head['part'] !== undefined && { part: { S: text(head['part']) } }) },
        UpdateExpression: 'SET #a = :a',
        ConditionExpression: 'attribute_exists(#a)',
        ExpressionAttributeNames: { '#a': 'authenticatedAt' },
        ExpressionAttributeValues: { ':a': { N: String((head['authenticatedAt'] as number) - seconds * 1000) } },
      }));
    }
    return heads.length;
  } finally {
    client.destroy();
  }
}
