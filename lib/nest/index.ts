export { SessionModule } from './session.module';
export { SessionValve, SessionNotTrackedError } from './session-valve';
export { Session } from './session.decorator';
export { SessionInterceptor } from './session.interceptor';
export { SessionHttpException } from './session-http-exception';
export { SessionTrackerMiddleware } from './session-tracker.middleware';
export { SESSION_MODULE_OPTIONS } from './session-module-definition';
export type { SessionModuleOptions } from './session-module-definition';
export { SessionManager } from '../core/session-manager';
