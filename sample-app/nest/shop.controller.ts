import { BadRequestException, Body, Controller, Get, Header, Inject, Post, Req, UnauthorizedException } from '@nestjs/common';
import { RequireFreshAuth, Session, SessionManager, SessionValve } from 'dynamo-session/nest';
import { samplePage } from '../page';
import { Device, devicesOf, emailProblem, FRESH_AUTH_SECONDS, handleOf, MAX_TEXT_LENGTH } from '../account';

interface CartItem {
  readonly name: string;
  readonly qty: number;
}

interface ShopSession {
  user?: { name: string };
  cart?: CartItem[];
  views?: number;
  /** A real app keeps it in its user database; the sample has only the session. */
  email?: string;
}

/** The client's name: a non-blank string, trimmed, of at most MAX_TEXT_LENGTH characters (a user id must stay short). */
function nameOf(body: { name?: unknown } | undefined): string {
  const name = typeof body?.name === 'string' ? body.name.trim() : '';
  if (!name) throw new BadRequestException('name is required');
  if (name.length > MAX_TEXT_LENGTH) throw new BadRequestException(`name is longer than ${MAX_TEXT_LENGTH} characters`);
  return name;
}

/** The sample's page and JSON API: login, cart, page-view counter, your devices, change of e-mail, logout. */
@Controller()
export class ShopController {
  constructor(
    @Inject(SessionManager) private readonly sessions: SessionManager,
    @Inject(SessionValve) private readonly valve: SessionValve,
  ) {}

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
    return { user: session.user, cart: session.cart ?? [], views: session.views, email: session.email };
  }

  @Get('api/cart')
  cart(@Session() session: Session<ShopSession>): ShopSession {
    return { cart: session.cart ?? [] }; // read only: nothing changes, so nothing is written
  }

  @Post('api/login')
  login(@Session() session: Session<ShopSession>, @Body() body: { name?: unknown }): ShopSession {
    const name = nameOf(body);
    // A new id (defeats session fixation), the user (for "Your devices" and "sign out everywhere"), and the time of this login.
    if (session.principal !== name) delete session.email; // the previous user's, if any
    session.login(name);
    session.user = { name };
    return { user: session.user };
  }

  /** "Is it you?": the name again (a real app asks for the password) renews the login, so "change e-mail" may go ahead. */
  @Post('api/reauth')
  reauth(@Session() session: Session<ShopSession>, @Body() body: { name?: unknown }): ShopSession {
    const name = nameOf(body);
    if (session.principal === undefined) throw new UnauthorizedException('nobody is logged in: log in first');
    if (name !== session.principal) throw new UnauthorizedException('that is not the name you logged in with');
    session.login(name);
    return { user: session.user };
  }

  /** Needs a login within FRESH_AUTH_SECONDS: otherwise a 401 before the handler runs, and the page asks for the name again. */
  @Post('api/email')
  @RequireFreshAuth(FRESH_AUTH_SECONDS)
  changeEmail(@Session() session: Session<ShopSession>, @Body() body: { email?: unknown }): ShopSession {
    const email = typeof body?.email === 'string' ? body.email.trim() : '';
    const problem = email ? emailProblem(email) : 'email is required';
    if (problem) throw new BadRequestException(problem);
    session.email = email;
    return { email };
  }

  /** "Your devices": this user's other sessions (never the current one, never another user's). */
  @Get('api/devices')
  async devices(@Session() session: Session<ShopSession>): Promise<{ devices: Device[] }> {
    return { devices: devicesOf(await session.otherSessions()) };
  }

  @Post('api/devices/sign-out')
  signOutDevice(@Session() session: Session<ShopSession>, @Body() body: { handle?: unknown }): { ok: true } {
    const handle = handleOf(body?.handle);
    if (handle === undefined) throw new BadRequestException('handle is required: one from GET /api/devices');
    session.destroyOther(handle); // at commit; a handle of no session of this user is a 404
    return { ok: true };
  }

  @Post('api/devices/sign-out-others')
  signOutOthers(@Session() session: Session<ShopSession>): { ok: true } {
    session.destroyOthers();
    return { ok: true };
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

  /** No load: a logout needs none (one DeleteItem), and it ends even a session no load could read. */
  @Post('api/logout')
  logout(@Req() req: Parameters<SessionValve['context']>[0]): { ok: true } {
    this.valve.context(req).destroy();
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
