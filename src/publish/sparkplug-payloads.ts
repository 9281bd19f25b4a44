// What Linesight says in Sparkplug B terms: the metrics of a station (a device) in its birth and
// per part, and the edge node's own birth and death. Names are stable; a SCADA tag path is
// <group>/<edge node>/<station>/<metric>.
import { createRequire } from 'node:module';
import type { UMetric, UPayload } from 'sparkplug-payload/lib/sparkplugbpayload.js';
import type { Verdict } from '../verdict.js';
import { verdictKinds } from '../verdict.js';

// sparkplug-payload is CommonJS with a namespace lookup; 'spBv1.0' is the only one it has.
const require = createRequire(import.meta.url);
const codec = (require('sparkplug-payload') as { get(ns: string): { encodePayload(p: UPayload): Uint8Array; decodePayload(b: Uint8Array): UPayload } }).get('spBv1.0')!;

export const encodePayload = (p: UPayload): Buffer => Buffer.from(codec.encodePayload(p));
export const decodePayload = (b: Uint8Array): UPayload => codec.decodePayload(b);

export interface StationTotals {
  counts: Record<(typeof verdictKinds)[number], number>;
  budgetMisses: number;
}

export function partMetrics(v: Verdict, totals: StationTotals, sequence: number): UMetric[] {
  const at = Date.parse(v.decidedAt);
  const total = Object.values(totals.counts).reduce((a, b) => a + b, 0);
  const m = (name: string, type: UMetric['type'], value: UMetric['value']): UMetric => ({ name, type, value, timestamp: at });
  return [
    m('Sequence', 'UInt64', sequence),
    m('Part/Id', 'String', v.partId),
    m('Part/Seq', 'UInt64', v.seq),
    m('Part/CapturedAt', 'DateTime', v.capturedAt ? Date.parse(v.capturedAt) : null),
    m('Verdict/Code', 'Int32', verdictKinds.indexOf(v.verdict)),
    m('Verdict/Text', 'String', v.verdict),
    m('Verdict/Action', 'String', v.action),
    m('Verdict/Reject', 'Boolean', v.action === 'reject'),
    m('Verdict/Label', 'String', v.label ?? ''),
    m('Verdict/Score', 'Double', v.score ?? Number.NaN),
    m('Verdict/DeadlineMet', 'Boolean', v.deadlineMet),
    m('Verdict/LatencyMs', 'Double', v.timings.totalMs),
    m('Model/Name', 'String', v.model?.name ?? ''),
    m('Model/Version', 'String', v.model?.version ?? ''),
    m('Counts/Pass', 'UInt64', totals.counts.pass),
    m('Counts/Fail', 'UInt64', totals.counts.fail),
    m('Counts/Uncertain', 'UInt64', totals.counts.uncertain),
    m('Counts/Timeout', 'UInt64', totals.counts.timeout),
    m('Counts/Error', 'UInt64', totals.counts.error),
    m('Counts/Total', 'UInt64', total),
    m('Counts/Yield', 'Double', total ? totals.counts.pass / total : 0),
    m('Counts/BudgetMisses', 'UInt64', totals.budgetMisses),
  ];
}

export interface DeviceState {
  cameraState: string;
  cameraRunning: boolean;
  model: string;
}

export function healthMetrics(s: DeviceState, at: number): UMetric[] {
  return [
    { name: 'Camera/State', type: 'String', value: s.cameraState, timestamp: at },
    { name: 'Camera/Running', type: 'Boolean', value: s.cameraRunning, timestamp: at },
    { name: 'Model/Serving', type: 'String', value: s.model, timestamp: at },
  ];
}

/** A DBIRTH names every metric the device will ever send, with its type and current value. */
export function birthMetrics(last: { verdict: Verdict; sequence: number } | null, totals: StationTotals, state: DeviceState, at: number): UMetric[] {
  const part = last
    ? partMetrics(last.verdict, totals, last.sequence)
    : partMetrics(emptyVerdict, totals, 0).map((m) => ({ ...m, value: m.type === 'String' ? '' : m.type === 'Boolean' ? false : m.name?.startsWith('Counts/') ? m.value : m.type === 'DateTime' ? null : 0, timestamp: at }));
  return [...part, ...healthMetrics(state, at)];
}

const emptyVerdict: Verdict = {
  id: '', line: '', camera: '', partId: '', seq: 0, verdict: 'pass', action: 'accept', label: null, score: null, scores: null, model: null,
  budgetMs: 0, deadlineMet: true, timings: { queueMs: null, preprocessMs: null, inferenceMs: null, totalMs: 0 }, capturedAt: null, captureTimeSource: null, decidedAt: new Date(0).toISOString(),
};
