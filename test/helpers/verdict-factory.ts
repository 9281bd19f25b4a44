// Verdicts made by hand, for the parts of the pipeline after the decision (publishers, summaries).
import type { Verdict, VerdictKind } from '../../src/verdict.js';

export function makeVerdict(options: {
  seq: number;
  kind?: VerdictKind;
  camera?: string;
  line?: string;
  totalMs?: number;
  deadlineMet?: boolean;
  model?: { name: string; version: string } | null;
  decidedAtMs?: number;
}): Verdict {
  const { seq, kind = 'pass', camera = 'cam1', line = 'L7', totalMs = 11.1 } = options;
  const decided = options.decidedAtMs ?? 1_767_225_600_011 + seq * 100;
  const pass = kind === 'pass';
  const decidedOk = kind === 'pass' || kind === 'fail' || kind === 'uncertain';
  return {
    id: `${line}.${camera}.run1.${seq}`,
    line,
    camera,
    partId: `SN-${seq}`,
    seq,
    verdict: kind,
    action: pass ? 'accept' : 'reject',
    label: decidedOk ? (pass ? 'upright' : 'rotated-180') : null,
    score: decidedOk ? 0.97 : null,
    scores: decidedOk ? { upright: pass ? 0.97 : 0.03, 'rotated-180': pass ? 0.03 : 0.97 } : null,
    model: options.model === undefined ? { name: 'label-orientation', version: '1.0.0' } : options.model,
    budgetMs: 100,
    deadlineMet: options.deadlineMet ?? totalMs <= 100,
    timings: { queueMs: 1.2, preprocessMs: 3.4, inferenceMs: 5.6, totalMs },
    capturedAt: new Date(decided - Math.round(totalMs)).toISOString(),
    captureTimeSource: 'arrival',
    decidedAt: new Date(decided).toISOString(),
    ...(decidedOk ? {} : { error: { code: 'LS_ERR_DEADLINE_EXPIRED', message: 'no result by the deadline' } }),
  };
}
