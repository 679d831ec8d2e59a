export { SessionStore } from './session-store';
export type { NewSession, SessionTimes, SessionUpdate, StoredSession, StoredValue } from './session-store';
export { MemoryStore } from './memory-store';
export { DynamoDbStore } from './dynamodb/dynamodb-store';
export type { DynamoDbStoreOptions } from './dynamodb/options';
