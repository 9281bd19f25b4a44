// The recent verdicts, filtered (station, verdict, since): what the dashboard's feed shows.
import type { FastifyPluginAsync } from 'fastify';
import { verdictKinds, type VerdictKind } from '../../verdict.js';
import type { VerdictLog } from '../verdict-log.js';
import { errorBody } from '../schemas.js';

export const verdictRoutes: FastifyPluginAsync<{ log: VerdictLog }> = async (app, { log }) => {
  app.get<{ Querystring: { station?: string; verdict?: VerdictKind; since?: string; limit?: number } }>('/verdicts', {
    schema: {
      summary: 'Recent verdicts, newest first (the process keeps the last 2,000 passes and 20,000 others): filter by station, verdict and since (ISO time).',
      querystring: {
        type: 'object',
        properties: {
          station: { type: 'string', maxLength: 64 },
          verdict: { type: 'string', enum: [...verdictKinds] },
          since: { type: 'string', format: 'date-time' },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
        },
        additionalProperties: false,
      },
      response: { 400: errorBody, 401: errorBody },
    } as object,
  }, async (req) => {
    const { station, verdict, since, limit } = req.query;
    return { items: log.query({ station, verdict, since: since ? Date.parse(since) : undefined, limit: limit ?? 100 }) };
  });
};
