import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { SessionValve } from './session-valve';
import { endAfterCommit } from './express-response-hook';

/** Runs before guards on every route: starts the valve's tracking of the request. */
@Injectable()
export class SessionTrackerMiddleware implements NestMiddleware {
  /** On Fastify the onSend hook commits late sessions; elsewhere res.end waits for the valve. */
  private readonly wrapResponseEnd: boolean;

  constructor(
    @Inject(SessionValve) private readonly valve: SessionValve,
    @Inject(HttpAdapterHost) adapterHost: HttpAdapterHost,
  ) {
    this.wrapResponseEnd = adapterHost.httpAdapter?.getType() !== 'fastify';
  }

  use(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    this.valve.begin(req, res);
    if (this.wrapResponseEnd) endAfterCommit(this.valve, req, res);
    next();
  }
}
