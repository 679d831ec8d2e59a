import { DynamicModule, Module } from '@nestjs/common';
import { SessionModule } from 'dynamo-session/nest';
import type { SessionStore } from 'dynamo-session';
import { ShopController } from './shop.controller';

@Module({})
export class AppModule {
  /** The store is passed in so the same module runs on DynamoDB Local, real DynamoDB, or in tests. */
  static withStore(store: SessionStore, secrets: string[]): DynamicModule {
    return {
      module: AppModule,
      imports: [SessionModule.forRoot({ store, secrets, ignoreUris: ['/health'] })],
      controllers: [ShopController],
    };
  }
}
