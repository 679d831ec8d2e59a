/**
 * The NestJS entry (SessionModule, SessionValve, @Session()) is delivered by
 * the NestJS integration issue; this placeholder keeps the subpath export stable.
 */
export {};
