import { Body, Controller, Get, Module, Post } from '@nestjs/common';
import { DynamoDbStore } from 'dynamo-session';
import { Session, SessionModule } from 'dynamo-session/nest'; // not @nestjs/common's Session

interface User {
  name: string;
}

interface ShopSession {
  user?: User;
  cart?: string[];
}

@Controller()
export class ShopController {
  @Get('health')
  health(): { ok: boolean } {
    return { ok: true }; // no @Session(): 0 DynamoDB calls
  }

  @Post('login')
  login(@Session() session: Session<ShopSession>, @Body('name') name: string): { user: User } {
    session.regenerate(); // a new id at login
    session.user = { name };
    return { user: session.user };
  }

  @Post('cart')
  add(@Session() session: Session<ShopSession>, @Body('item') item: string): { cart: string[] } {
    session.cart = [...(session.cart ?? []), item];
    return { cart: session.cart };
  }

  @Get('me')
  me(@Session('user') user?: User, @Session('cart') cart?: string[]): { user: User | null; cart: string[] } {
    return { user: user ?? null, cart: cart ?? [] };
  }

  @Post('logout')
  logout(@Session() session: Session<ShopSession>): { ok: boolean } {
    session.destroy();
    return { ok: true };
  }
}

@Module({
  imports: [
    SessionModule.forRoot({
      store: new DynamoDbStore({
        tableName: process.env.SESSION_TABLE ?? 'dynamo-sessions',
        endpoint: process.env.DYNAMODB_ENDPOINT,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      }),
      secrets: [process.env.SESSION_SECRET!],
      ignoreUris: ['/health'],
    }),
  ],
  controllers: [ShopController],
})
export class AppModule {}
