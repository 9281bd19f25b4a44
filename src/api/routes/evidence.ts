// Evidence kept on disk (src/evidence/store.ts): the list, one part's record, its image. Ids are
// looked up in the store's index, never joined into a path, so no request can reach another file.
import type { FastifyPluginAsync } from 'fastify';
import { LinesightError } from '../../errors.js';
import type { EvidenceEntry, EvidenceRecord } from '../../evidence/store.js';
import type { EvidenceReason } from '../../evidence/select.js';
import { verdictKinds, type VerdictKind } from '../../verdict.js';
import { errorBody } from '../schemas.js';

export interface EvidenceView {
  list(query: { station?: string; verdict?: VerdictKind; reason?: EvidenceReason; limit?: number; offset?: number }): { total: number; items: EvidenceEntry[] };
  record(id: string): Promise<EvidenceRecord>;
  image(id: string): Promise<{ data: Buffer; sha256: string; contentType: string }>;
}

const accessToken = { access_token: { type: 'string', description: 'The api.token, where a browser cannot send a header (api.protectReads).' } } as const;
const idParams = { type: 'object', properties: { id: { type: 'string', maxLength: 256 } }, required: ['id'] } as const;

export const evidenceRoutes: FastifyPluginAsync<{ evidence: EvidenceView | undefined }> = async (app, { evidence }) => {
  const store = (): EvidenceView => {
    if (!evidence) throw new LinesightError('LS_ERR_EVIDENCE_NOT_FOUND', 'evidence is off (evidence.enabled)', { args: [''] });
    return evidence;
  };

  app.get<{ Querystring: { station?: string; verdict?: VerdictKind; reason?: EvidenceReason; limit?: number; offset?: number } }>('/evidence', {
    config: { tokenInQuery: true },
    schema: {
      summary: 'Kept evidence, newest first: fails, parts near a threshold, sampled passes. Filter by station, verdict, reason; page with limit and offset.',
      querystring: {
        type: 'object',
        properties: {
          station: { type: 'string', maxLength: 64 },
          verdict: { type: 'string', enum: [...verdictKinds] },
          reason: { type: 'string', enum: ['fail', 'near-threshold', 'pass-sample'] },
          limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
          offset: { type: 'integer', minimum: 0, maximum: 10_000_000, default: 0 },
          ...accessToken,
        },
        additionalProperties: false,
      },
      response: { 400: errorBody, 401: errorBody },
    } as object,
  }, async (req) => {
    if (!evidence) return { enabled: false, total: 0, items: [] };
    const { access_token: _t, ...query } = req.query as typeof req.query & { access_token?: string };
    return { enabled: true, ...evidence.list(query) };
  });

  app.get<{ Params: { id: string } }>('/evidence/:id', {
    config: { tokenInQuery: true },
    schema: {
      summary: 'One part\'s evidence record: its verdict JSON, why it was kept, the image\'s sha256 and size, and its object key when uploaded.',
      params: idParams,
      querystring: { type: 'object', properties: accessToken, additionalProperties: false },
      response: { 400: errorBody, 401: errorBody, 404: errorBody },
    } as object,
  }, async (req) => store().record(req.params.id));

  app.get<{ Params: { id: string } }>('/evidence/:id/image', {
    config: { tokenInQuery: true },
    schema: {
      summary: 'One part\'s evidence image (JPEG); its sha256 in the ETag and X-Linesight-Sha256 headers.',
      params: idParams,
      querystring: { type: 'object', properties: accessToken, additionalProperties: false },
      response: { 400: errorBody, 401: errorBody, 404: errorBody },
    } as object,
  }, async (req, reply) => {
    const img = await store().image(req.params.id);
    return reply
      .header('content-type', img.contentType)
      // Evidence never changes under its id; browsers may keep it, proxies may not (it can be protected).
      .header('cache-control', 'private, max-age=86400, immutable')
      .header('etag', `"${img.sha256}"`)
      .header('x-linesight-sha256', img.sha256)
      .header('x-content-type-options', 'nosniff')
      .header('content-disposition', `inline; filename="${req.params.id}.jpg"`)
      .send(img.data);
  });
};
