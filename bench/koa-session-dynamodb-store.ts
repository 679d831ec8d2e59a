import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';

/**
 * The peer "koa-session with a DynamoDB store". No such store is published on
 * npm, so this is koa-session's documented external-store interface
 * (get/set/destroy) in the usual shape: the whole session is put on every save.
 * Reads are strongly consistent, like ours, so capacity compares like for like.
 */
export class KoaSessionDynamoDbStore {
  private readonly documents: DynamoDBDocumentClient;

  constructor(client: DynamoDBClient, private readonly tableName: string) {
    this.documents = DynamoDBDocumentClient.from(client);
  }

  async get(key: string): Promise<Record<string, unknown> | undefined> {
    const { Item } = await this.documents.send(new GetCommand({ TableName: this.tableName, Key: { sessionId: key }, ConsistentRead: true }));
    if (!Item || Number(Item['expiresAt']) * 1000 < Date.now()) return undefined;
    return JSON.parse(String(Item['session'])) as Record<string, unknown>;
  }

  async set(key: string, session: Record<string, unknown>, maxAge: number | 'session' | undefined): Promise<void> {
    const ttl = typeof maxAge === 'number' ? maxAge : 86_400_000;
    await this.documents.send(new PutCommand({
      TableName: this.tableName,
      Item: { sessionId: key, session: JSON.stringify(session), expiresAt: Math.floor((Date.now() + ttl) / 1000) },
    }));
  }

  async destroy(key: string): Promise<void> {
    await this.documents.send(new DeleteCommand({ TableName: this.tableName, Key: { sessionId: key } }));
  }
}
