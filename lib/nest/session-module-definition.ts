import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { SessionOptions } from '../core/options';

export type SessionModuleOptions = SessionOptions;

/**
 * forRoot / forRootAsync come from Nest's builder, as in @nestjs/throttler and
 * @nestjs/cache-manager. `isGlobal: true` makes SessionValve injectable everywhere.
 */
export const {
  ConfigurableModuleClass: ConfigurableSessionModule,
  MODULE_OPTIONS_TOKEN: SESSION_MODULE_OPTIONS,
  OPTIONS_TYPE: SESSION_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: SESSION_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<SessionModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
