import 'reflect-metadata';
import {
  ArgumentsHost, BadRequestException, CanActivate, Catch, Controller, Delete, ExceptionFilter, ExecutionContext, ForbiddenException, Get,
  Header, Inject, Injectable, INestApplication, LoggerService, Param, Post, Query, Redirect, Req, Res, Headers, UseFilters, UseGuards, ModuleMetadata,
} from '@nestjs/common';
import { BaseExceptionFilter, HttpAdapterHost } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { RequireFreshAuth, Session, SessionModule, SessionValve } from '../../lib/nest';
import type { OtherSession } from '../../lib';
import { EARLIER_MIDDLEWARE_HEADER, HANDLER_HEADERS } from './koa-app';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';

export type Platform = 'express' | 'fastify';

/** A guard that reads and changes the session, then ends the request: the commit must still happen. */
@Injectable()
class DenyingGuard implements CanActivate {
  constructor(@Inject(SessionValve) private readonly valve: SessionValve) {}
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const s = await this.valve.get(context.switchToHttp().getRequest<IncomingMessage>());
    s['denied'] = ((s['denied'] as number | undefined) ?? 0) + 1;
    throw new ForbiddenException('denied by guard');
  }
}

/** The Node response behind an Express response (itself) or a Fastify reply. */
function nodeResponse(res: object): ServerResponse {
  return 'raw' in res ? (res as { raw: ServerResponse }).raw : (res as ServerResponse);
}

class LoginRequired extends Error {}

/** Counts the visit in the session, then ends the request: the filter below answers it. */
@Injectable()
class LoginRequiredGuard implements CanActivate {
  constructor(@Inject(SessionValve) private readonly valve: SessionValve) {}
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const s = await this.valve.get(context.switchToHttp().getRequest<IncomingMessage>());
    s['visits'] = ((s['visits'] as number | undefined) ?? 0) + 1;
    throw new LoginRequired();
  }
}

/** Answers LoginRequired with a cacheable redirect to the login page, through the platform's own response API. */
@Catch(LoginRequired)
class RedirectToLoginFilter implements ExceptionFilter {
  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}
  catch(_: LoginRequired, host: ArgumentsHost): void {
    const adapter = this.adapterHost.httpAdapter;
    const res = host.switchToHttp().getResponse<object>();
    for (const [name, value] of HANDLER_HEADERS) adapter.setHeader(res, name, value);
    adapter.redirect(res, 302, '/login');
  }
}

@Controller()
class SessionTestController {
  constructor(
    @Inject(SessionValve) private readonly valve: SessionValve,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** Sets its headers the two ways apps do: on the Node response, and through the platform's response object. */
  @Post('handler-headers/:value')
  handlerHeaders(@Session() s: Session, @Param('value') value: string, @Res({ passthrough: true }) res: object): string {
    s['value'] = value;
    nodeResponse(res).setHeader('Location', '/next');
    for (const [name, v] of HANDLER_HEADERS) this.adapterHost.httpAdapter.setHeader(res, name, v);
    return 'ok';
  }

  @Post('decorated/:value')
  @Header(HANDLER_HEADERS[0][0], HANDLER_HEADERS[0][1])
  @Header(HANDLER_HEADERS[1][0], HANDLER_HEADERS[1][1])
  @Redirect('/next', 303)
  decorated(@Session() s: Session, @Param('value') value: string): void {
    s['value'] = value;
  }

  @Get('login-required')
  @UseGuards(LoginRequiredGuard)
  @UseFilters(RedirectToLoginFilter)
  loginRequired(): string {
    return 'unreachable';
  }

  @Get('none')
  none(): string {
    return 'no session here';
  }

  @Get('read')
  read(@Session() s: Session): object {
    return { isNew: s.isNew, data: { ...s } };
  }

  @Get('user')
  user(@Session('user') user: unknown): object {
    return { user: user ?? null };
  }

  @Get('health')
  health(@Session() s: Session): string {
    s['healthChecks'] = ((s['healthChecks'] as number | undefined) ?? 0) + 1;
    return 'ok';
  }

  @Post('set/:name/:value')
  set(@Session() s: Session, @Param('name') name: string, @Param('value') value: string): object {
    s[name] = value;
    return { data: { ...s } };
  }

  @Post('json/:name')
  json(@Session() s: Session, @Param('name') name: string, @Headers('x-json') json: string): string {
    s[name] = JSON.parse(json);
    return 'ok';
  }

  @Post('slow-set/:name/:value')
  async slowSet(@Session() s: Session, @Param('name') name: string, @Param('value') value: string, @Query('ms') ms?: string): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, Number(ms ?? 200)));
    s[name] = value;
    return 'ok';
  }

  @Post('bigint')
  bigint(@Session() s: Session): string {
    s['n'] = { big: 10n };
    return 'ok';
  }

  @Post('big/:name/:kb')
  big(@Session() s: Session, @Param('name') name: string, @Param('kb') kb: string): string {
    s[name] = randomBytes(Number(kb) * 768).toString('base64'); // kb KB of text gzip cannot shrink much
    return 'ok';
  }

  /** Loads, waits (so concurrent requests all load before any commits), then sets kb KB of random text. */
  @Post('slow-big/:name/:kb')
  async slowBig(@Session() s: Session, @Param('name') name: string, @Param('kb') kb: string, @Query('ms') ms?: string): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, Number(ms ?? 200)));
    s[name] = randomBytes(Number(kb) * 768).toString('base64');
    return 'ok';
  }

  @Delete('attr/:name')
  remove(@Session() s: Session, @Param('name') name: string): string {
    delete s[name];
    return 'ok';
  }

  @Post('fail-after-set')
  fail(@Session() s: Session): never {
    s['beforeFailure'] = true;
    throw new BadRequestException('handler failed');
  }

  @Get('guarded')
  @UseGuards(DenyingGuard)
  guarded(): string {
    return 'unreachable';
  }

  @Post('login/:user')
  login(@Session() s: Session, @Param('user') user: string): string {
    s.regenerate();
    s['user'] = user;
    return 'ok';
  }

  @Post('logout')
  logout(@Session() s: Session): string {
    s.destroy();
    return 'bye';
  }

  /** A logout that never reads the session: it ends even a session no load can decode. */
  @Post('logout-unread')
  logoutUnread(@Req() req: IncomingMessage): string {
    this.valve.context(req).destroy();
    return 'bye';
  }

  /** A logout that tries the load first, and ends the session whether or not it could be read. */
  @Post('logout-after-load')
  async logoutAfterLoad(@Req() req: IncomingMessage): Promise<string> {
    await this.valve.get(req).catch(() => undefined);
    this.valve.context(req).destroy();
    return 'bye';
  }

  // Account controls: the same routes as the Koa test app's.
  @Post('account/login/:user')
  accountLogin(@Session() s: Session, @Param('user') user: string): object {
    s.login(user);
    return { authAge: s.authAge() };
  }

  @Get('account/whoami')
  whoami(@Session() s: Session): object {
    return { principal: s.principal ?? null, authAge: s.authAge() ?? null, authenticatedAt: s.authenticatedAt ?? null };
  }

  @Get('account/devices')
  devices(@Session() s: Session): Promise<OtherSession[]> {
    return s.otherSessions();
  }

  @Post('account/sign-out/:handle')
  signOut(@Session() s: Session, @Param('handle') handle: string): string {
    s.destroyOther(handle);
    return 'ok';
  }

  @Post('account/sign-out-others')
  signOutOthers(@Session() s: Session): string {
    s.destroyOthers();
    return 'ok';
  }

  @Post('account/email')
  @RequireFreshAuth(1)
  email(@Session() s: Session, @Headers('x-email') email: string): string {
    s['email'] = email;
    return 'changed';
  }

  @Post('via-valve')
  async viaValve(@Req() req: IncomingMessage): Promise<string> {
    const s = await this.valve.get(req);
    s['viaValve'] = true;
    return 'ok';
  }
}

/** A real Nest app with the session module imported as users import it, on the given platform. */
export async function nestApp(
  platform: Platform,
  sessionImport: NonNullable<ModuleMetadata['imports']>[number],
  hooks: { onError?: (error: unknown) => void; trustProxy?: boolean; logger?: LoggerService } = {},
): Promise<INestApplication<Server>> {
  const moduleRef = await Test.createTestingModule({
    imports: [sessionImport],
    controllers: [SessionTestController],
    providers: [DenyingGuard, LoginRequiredGuard],
  }).compile();
  const trustProxy = hooks.trustProxy ?? false;
  const adapter = platform === 'fastify' ? new FastifyAdapter({ trustProxy }) : new ExpressAdapter();
  const app = moduleRef.createNestApplication(adapter, { logger: hooks.logger ?? false });
  // What app-wide middleware (CORS, helmet) sets before Nest routes the request, the way each platform does it.
  const [earlyName, earlyValue] = EARLIER_MIDDLEWARE_HEADER;
  if (platform === 'fastify') {
    adapter.getInstance<{ addHook(name: 'onRequest', hook: (req: unknown, reply: { header(n: string, v: string): unknown }, done: () => void) => void): unknown }>()
      .addHook('onRequest', (_, reply, done) => (reply.header(earlyName, earlyValue), done()));
  } else {
    adapter.getInstance<{ use(mw: (req: unknown, res: ServerResponse, next: () => void) => void): unknown }>()
      .use((_, res, next) => (res.setHeader(earlyName, earlyValue), next()));
  }
  if (platform === 'express' && trustProxy) adapter.getInstance<{ set(name: string, value: unknown): void }>().set('trust proxy', true);
  const { onError } = hooks;
  if (onError) {
    // Sees each error on its way to Nest's default filter, which still answers it.
    app.useGlobalFilters(new (class extends BaseExceptionFilter {
      override catch(exception: unknown, host: ArgumentsHost): void {
        onError(exception);
        super.catch(exception, host);
      }
    })(app.getHttpAdapter()));
  }
  await app.init();
  if (platform === 'fastify') await (app.getHttpAdapter().getInstance() as { ready(): Promise<unknown> }).ready();
  return app;
}

export { SessionModule };
