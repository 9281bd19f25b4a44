// The verdict: the one answer every inspected part gets. Its JSON form is the MQTT payload.
import type { Action } from './config/schema.js';

export const verdictKinds = ['pass', 'fail', 'uncertain', 'timeout', 'error'] as const;
export type VerdictKind = (typeof verdictKinds)[number];

export interface VerdictTimings {
  /** Capture to hand-over to a worker. */
  queueMs: number | null;
  preprocessMs: number | null;
  inferenceMs: number | null;
  /** Capture to verdict. */
  totalMs: number;
}

export interface Verdict {
  /** Stable message id, for de-duplication downstream (at-least-once delivery). */
  id: string;
  line: string;
  camera: string;
  partId: string;
  seq: number;
  verdict: VerdictKind;
  /** What the reject gate should do. */
  action: Action;
  label: string | null;
  score: number | null;
  scores: Record<string, number> | null;
  model: { name: string; version: string } | null;
  budgetMs: number;
  deadlineMet: boolean;
  timings: VerdictTimings;
  /** When the frame was captured; null when a triggered part got no frame. */
  capturedAt: string | null;
  /** What capturedAt is based on: the camera's clock, the packet's arrival at the box, or the frame's arrival in Linesight (capture-time.ts). */
  captureTimeSource: 'camera' | 'receive' | 'arrival' | null;
  /** Triggered parts: when the trigger came (the part's clock starts here). */
  triggeredAt?: string;
  decidedAt: string;
  error?: { code: string; message: string };
}
