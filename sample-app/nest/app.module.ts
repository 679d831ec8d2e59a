import { DynamicModule, Module } from '@nestjs/common';
import { SessionModule } from 'dynamo-session/nest';
import type { SessionStore } from 'dynamo-session';
import { ShopController } from './shop.controller';
import { DynamoDbCallsController } from './dynamodb-calls.controller';

@Module({})
export class AppModule {
  /** The store is passed in so the same module runs on DynamoDB Local, real DynamoDB, or in tests. */
  static withStore(store: SessionStore, secrets: string[]): DynamicModule {
    return {
      module: AppModule,
      // A name and a cart take a few KB: a session far larger is a client filling it with its own text. The library
      // refuses it with a 413 before any write (the default bound, 1 MiB, is for every app; this one knows better).
      // recordClientInfo: each session keeps the browser (User-Agent) and address it logged in from, for "Your devices".
      imports: [SessionModule.forRoot({ store, secrets, ignoreUris: ['/health'], maxSessionBytes: 64 * 1024, recordClientInfo: true })],
      // DynamoDbCallsController is a demo aid (sample-app/dynamodb-calls.ts) for the page's "DynamoDB calls" panel.
      controllers: [ShopController, DynamoDbCallsController],
    };
  }
}
