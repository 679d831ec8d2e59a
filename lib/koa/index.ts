import './context';

export { session } from './session-middleware';
export type { KoaSessionMiddleware } from './session-middleware';
export { requireFreshAuth } from './require-fresh-auth';
