// A part on its way through a station, and the one verdict it ends with. The verdict's kind
// decides the action: pass accepts, fail rejects, and uncertain, timeout and error take the
// station's configured fail-safe.
import type { Clock, TimerHandle } from '../clock.js';
import { toWall } from '../clock.js';
import type { StationConfig } from '../config/schema.js';
import type { Frame, FrameImage } from '../capture/frame.js';
import type { DecisionRule } from '../models/decision.js';
import type { LoadedModel } from '../models/model-ref.js';
import type { PoolResult } from '../inference/pool.js';
import type { Verdict, VerdictKind, VerdictTimings } from '../verdict.js';

/** A model version as a station serves it; swapped as a whole, so a part sees one version. */
export interface ServingModel extends LoadedModel {
  rule: DecisionRule;
}

export interface Part {
  frame: Frame;
  /** Per-station part number: the frame's sequence in free-run, the trigger's when triggered. */
  seq: number;
  partId: string;
  /** When the part's clock started: capture (free-run) or trigger time. */
  startAt: number;
  triggeredWall?: number;
  /** A triggered part whose camera gave no frame in time. */
  noFrame?: boolean;
  /**
   * The frame's bytes, handed back by the worker with its answer (the pool moves the original to
   * the worker, so the station keeps no copy of its own while the part is inspected).
   */
  returned?: Uint8Array;
  /** The pool answered (a result, or why none): no bytes come back after this. */
  answered?: boolean;
  /** Set while a decided part (a timeout) waits for its frame to come back from its worker. */
  onFrameBack?: (image: FrameImage | undefined) => void;
  model: ServingModel;
  deadline: number;
  settled: boolean;
  timer?: TimerHandle;
  abort: AbortController;
}

export interface VerdictDetail {
  result?: PoolResult;
  label?: string;
  score?: number;
  scores?: Record<string, number>;
  error?: { code: string; message: string };
}

export const actionFor = (kind: VerdictKind, c: StationConfig): Verdict['action'] =>
  kind === 'pass' ? 'accept' : kind === 'fail' ? 'reject' : kind === 'uncertain' ? c.uncertainAction : c.failSafe;

export function buildVerdict(part: Part, kind: VerdictKind, extra: VerdictDetail, ctx: { line: string; camera: string; runId: string; config: StationConfig; clock: Clock }): Verdict {
  const { clock, config, line } = ctx;
  const now = clock.now();
  const r = extra.result;
  const timings: VerdictTimings = {
    queueMs: r ? round(r.dispatchedAt - part.startAt) : null,
    preprocessMs: r && r.timings.preprocessMs ? round(r.timings.preprocessMs) : null,
    inferenceMs: r && r.timings.inferenceMs ? round(r.timings.inferenceMs) : null,
    totalMs: round(now - part.startAt),
  };
  const m = part.model.manifest;
  return {
    id: `${line}.${ctx.camera}.${ctx.runId}.${part.seq}`,
    line,
    camera: ctx.camera,
    partId: part.partId,
    seq: part.seq,
    verdict: kind,
    action: actionFor(kind, config),
    label: extra.label ?? null,
    score: extra.score === undefined ? null : round(extra.score, 4),
    scores: extra.scores ? Object.fromEntries(Object.entries(extra.scores).map(([k, v]) => [k, round(v, 4)])) : null,
    model: { name: m.name, version: m.version },
    budgetMs: config.budgetMs,
    deadlineMet: kind !== 'timeout' && now <= part.deadline,
    timings,
    capturedAt: part.noFrame ? null : new Date(part.frame.capturedWall).toISOString(),
    captureTimeSource: part.noFrame ? null : part.frame.timeSource ?? 'arrival',
    ...(part.triggeredWall !== undefined ? { triggeredAt: new Date(part.triggeredWall).toISOString() } : {}),
    decidedAt: new Date(toWall(clock, now)).toISOString(),
    ...(extra.error ? { error: extra.error } : {}),
  };
}

function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
