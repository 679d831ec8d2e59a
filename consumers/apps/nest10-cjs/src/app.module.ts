import { Body, Controller, Get, Module, Post } from '@nestjs/common';
import { DynamoDbStore } from 'dynamo-session';
import { RequireFreshAuth, Session, SessionModule } from 'dynamo-session/nest'; // not @nestjs/common's Session

interface User {
  name: string;
}

interface ShopSession {
  user?: User;
  cart?: string[];
  email?: string;
}

@Controller()
export class ShopController {
  @Get('health')
  health(): { ok: boolean } {
    return { ok: true }; // no @Session(): 0 DynamoDB calls
  }

  @Post('login')
  login(@Session() session: Session<ShopSession>, @Body('name') name: string): { user: User } {
    session.login(name); // a new id, the user and the time of the login
    session.user = { name };
    return { user: session.user };
  }

  @Post('email')
  @RequireFreshAuth(300) // a login within 5 minutes, or 401 before the handler runs
  email(@Session() session: Session<ShopSession>, @Body('email') email: string): { email: string } {
    session.email = email;
    return { email: session.email };
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
