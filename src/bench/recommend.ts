// From measured configurations to one recommendation for this box: the configuration that held
// the highest rate within budget; near-ties (within 5 %) go to fewer threads, then less memory,
// since spare cores absorb what the bench did not see (evidence writes, a second model, the OS).
import type { ConfigResult, Recommendation } from './result.js';
import { round } from './stats.js';

const nearTie = 0.05;

/** The highest step that held, in parts/min; 0 when none did. */
export function heldPerMin(steps: ConfigResult['steps']): number {
  const held = steps.filter((s) => s.held).map((s) => s.targetPerSec * 60);
  return held.length ? Math.round(Math.max(...held)) : 0;
}

export function recommend(configs: readonly ConfigResult[], cameraRatePerMin: number): Recommendation {
  if (!configs.length) throw new RangeError('recommend() needs at least one measured configuration');
  const best = Math.max(...configs.map((c) => c.heldPerMin));
  const threads = (c: ConfigResult) => c.workers * c.intraOpThreads;
  const candidates = configs
    .filter((c) => c.heldPerMin >= best * (1 - nearTie))
    .sort((a, b) => threads(a) - threads(b) || a.rssPeakMiB - b.rssPeakMiB || b.heldPerMin - a.heldPerMin);
  // Nothing held even the lowest step: recommend the most capacity, and say so.
  const pick = best > 0 ? candidates[0]! : [...configs].sort((a, b) => b.saturatedPerSec - a.saturatedPerSec)[0]!;
  const cameras = Math.floor(pick.heldPerMin / cameraRatePerMin);
  const name = `${pick.workers} worker(s) x ${pick.intraOpThreads} intra-op thread(s) on ${pick.provider}`;
  let reason: string;
  if (best === 0) reason = `no configuration held its lowest step within budget; ${name} has the most capacity (${round(pick.saturatedPerSec)} parts/s)`;
  else if (pick.heldPerMin < best) reason = `${name} holds ${pick.heldPerMin} parts/min, within ${nearTie * 100} % of the best (${best}) with fewer threads or less memory`;
  else reason = `${name} holds the highest rate within budget (${pick.heldPerMin} parts/min)`;
  return {
    workers: pick.workers,
    intraOpThreads: pick.intraOpThreads,
    provider: pick.provider,
    heldPerMin: pick.heldPerMin,
    camerasAtRate: cameras,
    cameraRatePerMin,
    saturatedPerSec: pick.saturatedPerSec,
    ofComputeLimit: pick.ofComputeLimit,
    ofParallelNaive: pick.ofParallelNaive,
    vsNaiveLoop: pick.vsNaiveLoop,
    reason,
  };
}
