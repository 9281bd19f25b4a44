// The terminal summary: per model, the baselines, each configuration's capacity and held rate,
// and the recommendation, as aligned plain-text columns.
import type { BenchResult, ModelResult } from '../result.js';

function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

export function baselineLine(m: ModelResult): string {
  const b = m.baselines;
  const py = b.python.map((p) => (p.status === 'ok' ? `${p.engine} ${p.partsPerSec}/s` : `${p.engine} skipped (${p.note})`)).join('; ');
  return (
    `decode+preprocess ${b.preprocessMsP50} ms (${b.jpegDecoder === 'sharp' ? 'sharp' : `libjpeg-turbo scaled; sharp alone ${b.sharpPreprocessMsP50} ms`}), inference ${b.inferenceMsP50} ms (1 thread) -> compute limit ${b.computeLimitPerSec}/s; ` +
    `naive loop ${b.naiveLoopPerSec}/s, ${b.parallelNaivePerSec}/s with one per core at once; raw session.run ${b.rawRunPerSec}/s; python: ${py}`
  );
}

/** The line check in one sentence, or undefined when it did not run. */
export function lineCheckText(m: ModelResult, ratePerMin: number): string | undefined {
  const c = m.lineCheck;
  if (!c) return undefined;
  const l = c.latencyMs;
  return (
    `line check: the recommended configuration at ${ratePerMin} parts/min for ${c.seconds} s: ${c.parts} parts, ` +
    `latency p50 ${l.p50} / p99 ${l.p99} / p99.9 ${l.p999} / max ${l.max} ms, ${c.timeouts} timeout(s), ${c.errors} error(s), ${c.shed} shed, peak RSS ${c.rssMiB} MiB`
  );
}

export function renderTable(r: BenchResult): string {
  const out: string[] = [];
  out.push(`linesight bench ${r.version}: ${r.host.cpus} x ${r.host.cpu}, ${r.settings.frame.label} frames, budget ${r.settings.budgetMs} ms${r.settings.quick ? ' (quick)' : ''}`);
  for (const m of r.models) {
    out.push('', `${m.model}${m.randomWeights ? ' (RANDOM WEIGHTS: timing only)' : ''}`, `  ${baselineLine(m)}`);
    const rows = [['  config', 'parts/s sat.', 'of limit', 'of parallel', 'x naive', 'held/min', 'p50@held', 'p99.9@held', 'RSS MiB']];
    for (const c of m.configs) {
      const held = c.steps.filter((s) => s.held).at(-1);
      rows.push([
        `  ${c.workers}w x ${c.intraOpThreads}t ${c.provider}`,
        String(c.saturatedPerSec),
        c.ofComputeLimit.toFixed(2),
        c.ofParallelNaive.toFixed(2),
        c.vsNaiveLoop.toFixed(2),
        String(c.heldPerMin),
        held ? held.latencyMs.p50.toFixed(1) : '-',
        held ? held.latencyMs.p999.toFixed(1) : '-',
        String(c.rssPeakMiB),
      ]);
    }
    out.push(columns(rows));
    const rec = m.recommendation;
    const check = lineCheckText(m, rec.cameraRatePerMin);
    if (check) out.push(`  ${check}`);
    out.push(`  recommended: inference.workers ${rec.workers}, intraOpThreads ${rec.intraOpThreads}, executionProviders [${rec.provider}]: ${rec.heldPerMin} parts/min within ${r.settings.budgetMs} ms, ${rec.camerasAtRate} camera(s) at ${rec.cameraRatePerMin} parts/min`);
  }
  return out.join('\n') + '\n';
}
