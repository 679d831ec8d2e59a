export { DynamoDbStore } from './dynamodb/dynamodb-store';
export type { DynamoDbStoreOptions } from './dynamodb/options';
