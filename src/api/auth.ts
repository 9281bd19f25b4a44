// Mutating routes need the configured bearer token. Without a token in the config they are
// refused, not left open: a box on a plant network must not accept triggers or models from anyone.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LinesightError } from '../errors.js';

export function requireToken(token: string | undefined) {
  const expected = token ? Buffer.from(token) : undefined;
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (!expected) throw new LinesightError('LS_ERR_UNAUTHORIZED', 'api.token is not configured, so mutating routes are disabled');
    const header = req.headers.authorization ?? '';
    const m = /^Bearer (.+)$/.exec(header);
    const given = m ? Buffer.from(m[1]!) : Buffer.alloc(0);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new LinesightError('LS_ERR_UNAUTHORIZED', m ? 'wrong token' : 'send Authorization: Bearer <api.token>');
    }
  };
}
