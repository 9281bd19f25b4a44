// The cloud outbox over HTTP: its state, and the quarantine (messages the cloud broker refused),
// which a person lists, retries after fixing the cause, or purges. Mutating routes need the
// bearer token (global onRequest check in auth.ts).
import type { FastifyPluginAsync } from 'fastify';
import { LinesightError } from '../../errors.js';
import type { CloudHealth } from '../../publish/cloud-publisher.js';
import type { Outbox } from '../../publish/outbox.js';
import { errorBody } from '../schemas.js';

export interface OutboxView {
  /** Undefined while cloud publishing is disabled (the routes answer LS_ERR_CLOUD_DISABLED, 404). */
  outbox(): Outbox | undefined;
  health(): CloudHealth | undefined;
  /** Wakes the drain after a retry. */
  notify(): void;
}

const MAX_IDS = 1000;
const idsBody = {
  type: ['object', 'null'],
  properties: { ids: { type: 'array', items: { type: 'string', maxLength: 512 }, maxItems: MAX_IDS } },
  additionalProperties: false,
};

export const outboxRoutes: FastifyPluginAsync<{ view: OutboxView }> = async (app, { view }) => {
  const outbox = (): Outbox => {
    const o = view.outbox();
    if (!o) throw new LinesightError('LS_ERR_CLOUD_DISABLED', 'set cloud.enabled');
    return o;
  };

  app.get('/outbox', { schema: { summary: 'Cloud outbox: depth, bytes, oldest age, drops by reason, quarantined; and the cloud connection.', response: { 401: errorBody, 404: errorBody } } as object }, async () => {
    const o = outbox();
    return { ...o.stats(), cloud: view.health() ?? null };
  });

  app.get<{ Querystring: { limit?: number; offset?: number } }>('/outbox/quarantine', {
    schema: {
      summary: 'Messages the cloud broker refused (or that failed too often), with the reason; payloads as base64.',
      querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 }, offset: { type: 'integer', minimum: 0, default: 0 } }, additionalProperties: false },
      response: { 400: errorBody, 401: errorBody, 404: errorBody },
    } as object,
  }, async (req) => {
    const o = outbox();
    const messages = o.listQuarantine({ limit: req.query.limit ?? 100, offset: req.query.offset ?? 0 });
    return {
      total: o.stats().quarantined,
      messages: messages.map((m) => ({ ...m, payload: m.payload.toString('base64'), payloadBytes: m.payload.length })),
    };
  });

  app.post<{ Body: { ids?: string[] } | null }>('/outbox/quarantine/retry', {
    schema: { summary: 'Back into the outbox (all, or the given ids), at the end of their station\'s order. Needs the bearer token.', body: idsBody, response: { 400: errorBody, 401: errorBody, 404: errorBody } } as object,
  }, async (req) => {
    const retried = outbox().retryQuarantined(req.body?.ids);
    view.notify();
    return { retried };
  });

  app.post<{ Body: { ids?: string[] } | null }>('/outbox/quarantine/purge', {
    schema: { summary: 'Delete quarantined messages for good (all, or the given ids). Needs the bearer token.', body: idsBody, response: { 400: errorBody, 401: errorBody, 404: errorBody } } as object,
  }, async (req) => ({ purged: outbox().purgeQuarantined(req.body?.ids) }));
};
