// Who may call what. Mutating routes need the configured bearer token; without a token in the
// config they are refused, not left open: a box on a plant network must not accept triggers or
// models from anyone. With api.protectReads every route but the probes needs it too.
//
// The check runs in onRequest, before fastify reads a byte of the body: an unauthenticated
// 2 GiB upload is answered at once (and its connection closed, see server.ts), never buffered.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { LinesightError } from '../errors.js';

/** Per-route access, set in a route's `config`. */
export interface RouteAccess {
  /** Liveness and readiness probes: open even with protectReads. */
  public?: boolean;
  /** Also accept ?access_token=: for what browsers load without headers (EventSource, <img>, the page itself). */
  tokenInQuery?: boolean;
}

export interface AccessOptions {
  token: string | undefined;
  protectReads: boolean;
}

const reads = new Set(['GET', 'HEAD', 'OPTIONS']);

export function accessControl({ token, protectReads }: AccessOptions): onRequestAsyncHookHandler {
  const expected = token ? Buffer.from(token) : undefined;
  return async (req) => {
    const access: RouteAccess = req.routeOptions.config ?? {};
    if (reads.has(req.method) && (!protectReads || access.public)) return;
    if (!expected) throw new LinesightError('LS_ERR_UNAUTHORIZED', 'api.token is not configured, so mutating routes are disabled');
    const given = presented(req, access.tokenInQuery === true);
    if (given === undefined) {
      throw new LinesightError('LS_ERR_UNAUTHORIZED', access.tokenInQuery ? 'send Authorization: Bearer <api.token> or ?access_token=<api.token>' : 'send Authorization: Bearer <api.token>');
    }
    // Constant-time for equal lengths; the length itself is not the secret.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new LinesightError('LS_ERR_UNAUTHORIZED', 'wrong token');
  };
}

function presented(req: FastifyRequest, query: boolean): Buffer | undefined {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  if (m) return Buffer.from(m[1]!);
  if (!query) return undefined;
  const q = (req.query as Record<string, unknown> | undefined)?.access_token;
  return typeof q === 'string' && q.length > 0 ? Buffer.from(q) : undefined;
}

declare module 'fastify' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface FastifyContextConfig extends RouteAccess {}
}
