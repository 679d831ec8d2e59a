import { BadRequestException, Body, Controller, Get, Header, Inject, Post } from '@nestjs/common';
import { Session, SessionManager } from 'dynamo-session/nest';
import { samplePage } from '../page';

interface CartItem {
  readonly name: string;
  readonly qty: number;
}

interface ShopSession {
  user?: { name: string };
  cart?: CartItem[];
  views?: number;
}

/** The sample's page and JSON API: login, cart, page-view counter, logout. */
@Controller()
export class ShopController {
  constructor(@Inject(SessionManager) private readonly sessions: SessionManager) {}

  @Get('health')
  health(): { ok: true } {
    return { ok: true }; // no @Session(): costs no DynamoDB call
  }

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  page(): string {
    return samplePage('NestJS');
  }

  @Get('api/me')
  me(@Session() session: Session<ShopSession>): ShopSession {
    session.views = (session.views ?? 0) + 1;
    return { user: session.user, cart: session.cart ?? [], views: session.views };
  }

  @Get('api/cart')
  cart(@Session() session: Session<ShopSession>): ShopSession {
    return { cart: session.cart ?? [] }; // read only: nothing changes, so nothing is written
  }

  @Post('api/login')
  login(@Session() session: Session<ShopSession>, @Body() body: { name?: unknown }): ShopSession {
    const name = typeof body?.name === 'string' ? body.name.trim() : '';
    if (!name) throw new BadRequestException('name is required');
    session.regenerate(); // a new id at login defeats session fixation
    session.setPrincipal(name); // so "sign out everywhere" can find this session
    session.user = { name };
    return { user: session.user };
  }

  @Post('api/cart')
  add(@Session() session: Session<ShopSession>, @Body() body: { item?: unknown }): ShopSession {
    const item = typeof body?.item === 'string' ? body.item.trim() : '';
    if (!item) throw new BadRequestException('item is required');
    // No length cap here, unlike the Koa sample's 200 characters: the session's maxSessionBytes is the bound, and the page shows its 413.
    const cart = session.cart ?? [];
    const existing = cart.find((i) => i.name === item);
    session.cart = existing ? cart.map((i) => (i === existing ? { ...i, qty: i.qty + 1 } : i)) : [...cart, { name: item, qty: 1 }];
    return { cart: session.cart };
  }

  @Post('api/logout')
  logout(@Session() session: Session<ShopSession>): { ok: true } {
    session.destroy();
    return { ok: true };
  }

  /** Ends every session of this user, on every device and node. */
  @Post('api/logout-everywhere')
  async logoutEverywhere(@Session() session: Session<ShopSession>): Promise<{ signedOut: number }> {
    const signedOut = session.principal ? await this.sessions.store.destroyByPrincipal(session.principal) : 0;
    session.destroy();
    return { signedOut };
  }
}
