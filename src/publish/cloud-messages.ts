// The payloads that go to the cloud, version 1. The schemas here are the contract: the README
// documents them, tests validate every message against them, and a change that breaks a reader
// needs `v: 2` (readers must ignore fields they do not know, so adding one does not).
// Compact on purpose: the cloud gets the signal (fails, summaries, events), not the stream, and
// AWS IoT Core caps a payload at 128 KB.
import { Type, type Static } from '@sinclair/typebox';
import type { MessageClass, NewMessage } from './outbox.js';
import type { Verdict } from '../verdict.js';
import { verdictKinds } from '../verdict.js';

export const CLOUD_PAYLOAD_VERSION = 1;
/** Labels kept in a verdict's `scores`: enough to see the runner-up, bounded for models with many labels. */
export const MAX_CLOUD_SCORES = 5;
const MAX_ERROR_CHARS = 500;

const Nullable = <T extends ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);
const Iso = Type.String({ format: 'date-time' });
const Common = {
  v: Type.Literal(CLOUD_PAYLOAD_VERSION),
  id: Type.String({ minLength: 1, description: 'Stable message id: the same message sent twice has the same id (de-duplicate on it).' }),
  line: Type.String(),
  station: Type.String(),
};

/** Where the part's image is kept; filled in by the evidence store when it keeps one. */
export const EvidenceRef = Type.Object(
  {
    id: Type.String({ description: 'Evidence id on this box (GET /evidence/:id).' }),
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
    key: Type.Optional(Type.String({ description: 'Object key in the S3 bucket, when evidence is uploaded.' })),
  },
  { additionalProperties: true },
);
export type EvidenceRef = Static<typeof EvidenceRef>;

export const CloudVerdictPayload = Type.Object(
  {
    ...Common,
    kind: Type.Literal('verdict'),
    partId: Type.String(),
    seq: Type.Integer({ minimum: 0 }),
    verdict: Type.Union(verdictKinds.map((k) => Type.Literal(k))),
    action: Type.Union([Type.Literal('reject'), Type.Literal('accept')]),
    label: Type.Union([Type.String(), Type.Null()]),
    score: Nullable(Type.Number()),
    scores: Type.Union([Type.Record(Type.String(), Type.Number()), Type.Null()]),
    model: Type.Union([Type.String(), Type.Null()]),
    budgetMs: Type.Number(),
    deadlineMet: Type.Boolean(),
    totalMs: Type.Number(),
    capturedAt: Type.Union([Iso, Type.Null()]),
    decidedAt: Iso,
    error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
    evidence: Type.Union([EvidenceRef, Type.Null()]),
  },
  { additionalProperties: false },
);
export type CloudVerdictPayload = Static<typeof CloudVerdictPayload>;

const Percentiles = Type.Object({ p50: Type.Number(), p95: Type.Number(), p99: Type.Number(), max: Type.Number() }, { additionalProperties: false });

export const CloudSummaryPayload = Type.Object(
  {
    ...Common,
    kind: Type.Literal('summary'),
    window: Type.Object({ start: Iso, end: Iso }, { additionalProperties: false }),
    parts: Type.Integer({ minimum: 0 }),
    counts: Type.Object(Object.fromEntries(verdictKinds.map((k) => [k, Type.Integer({ minimum: 0 })])) as Record<(typeof verdictKinds)[number], ReturnType<typeof Type.Integer>>, { additionalProperties: false }),
    yield: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
    latencyMs: Type.Union([Percentiles, Type.Null()]),
    budgetMisses: Type.Integer({ minimum: 0 }),
    models: Type.Array(Type.Object({ model: Type.String(), parts: Type.Integer({ minimum: 0 }) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type CloudSummaryPayload = Static<typeof CloudSummaryPayload>;

export const cloudEventKinds = ['model-changed', 'model-refused', 'camera-state', 'health', 'shadow'] as const;
export type CloudEventKind = (typeof cloudEventKinds)[number];

export const CloudEventPayload = Type.Object(
  {
    ...Common,
    kind: Type.Literal('event'),
    event: Type.Union(cloudEventKinds.map((k) => Type.Literal(k))),
    at: Iso,
    detail: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
    suppressed: Type.Integer({ minimum: 0, description: 'Events of this station dropped by the rate limit since the last one sent.' }),
  },
  { additionalProperties: false },
);
export type CloudEventPayload = Static<typeof CloudEventPayload>;

export const cloudPayloadSchemas = { verdict: CloudVerdictPayload, summary: CloudSummaryPayload, event: CloudEventPayload } as const;

/** Rounds to 0.01 ms: finer is noise, and every byte is paid for on a metered WAN. */
export const ms2 = (x: number) => Math.round(x * 100) / 100;

function topScores(scores: Record<string, number> | null): Record<string, number> | null {
  if (!scores) return null;
  const entries = Object.entries(scores);
  if (entries.length <= MAX_CLOUD_SCORES) return scores;
  return Object.fromEntries(entries.sort((a, b) => b[1] - a[1]).slice(0, MAX_CLOUD_SCORES));
}

export function verdictPayload(v: Verdict, evidence: EvidenceRef | null): CloudVerdictPayload {
  return {
    v: CLOUD_PAYLOAD_VERSION,
    kind: 'verdict',
    id: v.id,
    line: v.line,
    station: v.camera,
    partId: v.partId,
    seq: v.seq,
    verdict: v.verdict,
    action: v.action,
    label: v.label,
    score: v.score,
    scores: topScores(v.scores),
    model: v.model ? `${v.model.name}@${v.model.version}` : null,
    budgetMs: v.budgetMs,
    deadlineMet: v.deadlineMet,
    totalMs: ms2(v.timings.totalMs),
    capturedAt: v.capturedAt,
    decidedAt: v.decidedAt,
    // Error text can quote outside input; a cloud payload stays small whatever it says.
    ...(v.error ? { error: { code: v.error.code, message: v.error.message.slice(0, MAX_ERROR_CHARS) } } : {}),
    evidence,
  };
}

/** The outbox message for a payload: the payload's id is the message id, the station its ordering key. */
export function cloudMessage(cls: MessageClass, topic: string, payload: CloudVerdictPayload | CloudSummaryPayload | CloudEventPayload): NewMessage {
  return { id: payload.id, station: payload.station, class: cls, topic, payload: Buffer.from(JSON.stringify(payload)) };
}

/** A summary id names its station and window, so the same window always gets the same id. */
export function summaryId(line: string, station: string, windowStartWallMs: number): string {
  return `${line}.${station}.summary.${new Date(windowStartWallMs).toISOString()}`;
}
