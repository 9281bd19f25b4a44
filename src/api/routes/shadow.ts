// Shadow trials over HTTP: start a candidate beside a station's active version, read its live
// agreement and disagreements, promote it, stop it. Mutating routes need the bearer token
// (server-wide onRequest); every refusal says why, and the active version keeps serving.
import type { FastifyPluginAsync } from 'fastify';
import type { ActivationReport } from '../../models/manager.js';
import type { StartTrial } from '../../shadow/trials.js';
import type { Disagreement, TrialReport } from '../../shadow/trial.js';
import { errorBody } from '../schemas.js';

export interface ShadowView {
  begin(station: string, req: StartTrial): Promise<TrialReport>;
  end(station: string): Promise<TrialReport>;
  promote(station: string): Promise<ActivationReport>;
  report(station: string): TrialReport | null;
  disagreements(station: string): Disagreement[];
}

const stationParams = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const;
const refusals = { 400: errorBody, 401: errorBody, 404: errorBody, 409: errorBody, 422: errorBody, 503: errorBody } as const;
const verdictRow = { type: 'object', properties: { pass: { type: 'integer' }, fail: { type: 'integer' }, uncertain: { type: 'integer' } } } as const;
const percentiles = { type: 'object', properties: { p50: { type: ['number', 'null'] }, p99: { type: ['number', 'null'] } } } as const;
const policy = {
  type: 'object',
  properties: {
    minParts: { type: 'integer', minimum: 1 },
    minAgreement: { type: 'number', minimum: 0, maximum: 1 },
    maxErrors: { type: 'integer', minimum: 0 },
    maxLatencyMs: { type: ['number', 'null'], exclusiveMinimum: 0 },
    mode: { type: 'string', enum: ['manual', 'auto'] },
  },
  additionalProperties: false,
} as const;

export const trialReport = {
  type: 'object',
  properties: {
    station: { type: 'string' },
    active: { type: 'string', description: 'The version serving when the trial started (name@version).' },
    candidate: { type: 'string' },
    state: { type: 'string', enum: ['running', 'promoting', 'promoted', 'stopped'] },
    startedAt: { type: 'string' },
    endedAt: { type: ['string', 'null'] },
    endReason: { type: ['string', 'null'] },
    share: { type: 'number' },
    policy,
    parts: { type: 'integer', description: 'Parts compared.' },
    agreement: { type: ['number', 'null'], description: 'Share of compared parts with the same verdict.' },
    confusion: {
      type: 'object',
      description: 'Rows: the active version\'s verdict; columns: the candidate\'s.',
      properties: { pass: verdictRow, fail: verdictRow, uncertain: verdictRow },
    },
    scoreDiff: { type: 'object', description: '|p(fail) active − p(fail) candidate|.', properties: { mean: { type: ['number', 'null'] }, max: { type: ['number', 'null'] } } },
    latencyMs: {
      type: 'object',
      description: 'candidate, active: worker time (preprocess + inference); projected: capture to verdict had the candidate served each compared part (what the promotion policy judges).',
      properties: { candidate: percentiles, active: percentiles, projected: percentiles },
    },
    errors: { type: 'integer' },
    lastError: { type: ['string', 'null'] },
    dropped: { type: 'integer', description: 'Candidate runs dropped for want of spare capacity.' },
    skipped: { type: 'integer', description: 'Parts not offered: no model verdict from the active version, or outside the share.' },
    judgement: { type: 'object', properties: { ready: { type: 'boolean' }, blocking: { type: 'array', items: { type: 'string' } } } },
    disagreements: { type: 'integer' },
  },
} as const;

const activation = {
  type: 'object',
  properties: { station: { type: 'string' }, from: { type: ['string', 'null'] }, to: { type: 'string' }, provider: { type: 'string' }, golden: { type: 'integer' }, reason: { type: 'string' } },
} as const;

const judged = { type: 'object', properties: { verdict: { type: 'string' }, label: { type: ['string', 'null'] }, score: { type: ['number', 'null'] } } } as const;

export const shadowRoutes: FastifyPluginAsync<{ shadow: ShadowView }> = async (app, { shadow }) => {
  app.get<{ Params: { id: string } }>('/stations/:id/shadow', {
    schema: {
      summary: 'The running shadow trial of a station (or the last one, once ended): agreement, confusion matrix, score differences, latency, errors, and what the promotion policy still waits for.',
      params: stationParams,
      response: { 200: { type: 'object', properties: { trial: { anyOf: [trialReport, { type: 'null' }] } } }, 401: errorBody, 404: errorBody },
    } as object,
  }, async (req) => ({ trial: shadow.report(req.params.id) }));

  app.post<{ Params: { id: string }; Body: StartTrial }>('/stations/:id/shadow', {
    schema: {
      summary: 'Start a shadow trial: the candidate (name@version) is loaded and checked beside the active version, then sees the station\'s decided parts on spare capacity; its answers are recorded, never published.',
      params: stationParams,
      body: {
        type: 'object',
        properties: {
          model: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*@[A-Za-z0-9][A-Za-z0-9_.+-]*$' },
          share: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
          policy,
        },
        required: ['model'],
        additionalProperties: false,
      },
      response: { 201: trialReport, ...refusals },
    } as object,
  }, async (req, reply) => reply.status(201).send(await shadow.begin(req.params.id, req.body)));

  app.delete<{ Params: { id: string } }>('/stations/:id/shadow', {
    schema: { summary: 'Stop the shadow trial; the candidate leaves the workers. Answers its final report.', params: stationParams, response: { 200: trialReport, ...refusals } } as object,
  }, async (req) => shadow.end(req.params.id));

  app.post<{ Params: { id: string } }>('/stations/:id/shadow/promote', {
    schema: {
      summary: 'Promote the candidate: it becomes the active version (checked and switched like any activation); the trial ends. POST /stations/:id/model/rollback undoes it.',
      params: stationParams,
      response: { 200: activation, ...refusals },
    } as object,
  }, async (req) => shadow.promote(req.params.id));

  app.get<{ Params: { id: string } }>('/stations/:id/shadow/disagreements', {
    schema: {
      summary: 'Parts where the candidate and the active version gave different verdicts, newest first, with the evidence record of the part\'s image where the evidence store kept it (GET /evidence/{evidenceId}/image).',
      params: stationParams,
      response: {
        200: {
          type: 'object',
          properties: {
            items: {
              type: 'array',
              items: {
                type: 'object',
                properties: { partId: { type: 'string' }, seq: { type: 'integer' }, verdictId: { type: 'string' }, decidedAt: { type: 'string' }, active: judged, candidate: judged, evidenceId: { type: ['string', 'null'] } },
              },
            },
          },
        },
        401: errorBody,
        404: errorBody,
      },
    } as object,
  }, async (req) => ({ items: shadow.disagreements(req.params.id) }));
};
