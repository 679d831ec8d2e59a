import { Inject, Logger, MiddlewareConsumer, Module, NestModule, OnModuleInit, RequestMethod } from '@nestjs/common';
import { APP_INTERCEPTOR, HttpAdapterHost } from '@nestjs/core';
import type { Logger as SessionLogger } from '../core/logger';
import { SessionManager } from '../core/session-manager';
import { registerFastifyHooks } from './fastify-response-hook';
import { ConfigurableSessionModule, SESSION_MODULE_OPTIONS, SessionModuleOptions } from './session-module-definition';
import { SessionInterceptor } from './session.interceptor';
import { SessionTrackerMiddleware } from './session-tracker.middleware';
import { SessionValve } from './session-valve';

/** Nest's Logger under the library's Logger interface, so Nest apps log sessions like everything else. */
function nestLogger(): SessionLogger {
  const logger = new Logger('SessionModule');
  return {
    debug: (message, ...meta) => logger.debug(message, ...meta),
    info: (message, ...meta) => logger.log(message, ...meta),
    warn: (message, ...meta) => logger.warn(message, ...meta),
    error: (message, ...meta) => logger.error(message, ...meta),
  };
}

/**
 * `SessionModule.forRoot(options)` / `forRootAsync({ imports, useFactory, inject })`.
 * It applies the tracker middleware to every route and the commit interceptor
 * globally; the app adds nothing else.
 */
@Module({
  providers: [
    {
      provide: SessionManager,
      useFactory: (options: SessionModuleOptions) => new SessionManager({ logger: nestLogger(), ...options }),
      inject: [SESSION_MODULE_OPTIONS],
    },
    SessionValve,
    { provide: APP_INTERCEPTOR, useClass: SessionInterceptor },
  ],
  exports: [SessionManager, SessionValve],
})
export class SessionModule extends ConfigurableSessionModule implements NestModule, OnModuleInit {
  constructor(
    @Inject(SessionValve) private readonly valve: SessionValve,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
  ) {
    super();
  }

  configure(consumer: MiddlewareConsumer): void {
    // Before routes are registered, so Fastify's hook covers every route.
    const adapter = this.adapterHost.httpAdapter;
    if (adapter?.getType() === 'fastify') registerFastifyHooks(adapter.getInstance(), this.valve);
    consumer.apply(SessionTrackerMiddleware).forRoutes({ path: '*', method: RequestMethod.ALL });
  }

  /** Fails application startup when the store cannot serve (e.g. a missing table with createIfNotExist: false). */
  async onModuleInit(): Promise<void> {
    await this.valve.manager.ready();
  }
}
