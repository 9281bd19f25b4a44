// The Markdown report: what a buyer or a reviewer reads, with every step's percentiles.
import type { BenchResult } from '../result.js';
import { baselineLine, lineCheckText } from './table.js';

/** One row per model: the figures a buyer compares, each configuration's detail follows. */
export function renderSummary(r: BenchResult): string {
  const py = (m: BenchResult['models'][number], engine: 'torch' | 'opencv') => {
    const p = m.baselines.python.find((x) => x.engine === engine);
    return p?.status === 'ok' ? `${p.partsPerSec} (Linesight ${p.linesightRatio}x)` : 'skipped';
  };
  return [
    `| model | compute limit parts/s | naive loop | naive loops, one per core | raw session.run (1 thread) | Linesight saturated (recommended config) | of compute limit | of parallel naive loops | x naive loop | held parts/min (p99.9 <= ${r.settings.budgetMs} ms) | cameras at ${r.settings.cameraRatePerMin}/min | line check at ${r.settings.cameraRatePerMin}/min: parts, timeouts, p99.9 ms | Python torch | Python OpenCV DNN |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.models.map((m) => {
      const rec = m.recommendation;
      const b = m.baselines;
      return `| ${m.model}${m.randomWeights ? ' (random weights)' : ''} | ${b.computeLimitPerSec} | ${b.naiveLoopPerSec} | ${b.parallelNaivePerSec} | ${b.rawRunPerSec} | ${rec.saturatedPerSec} (${rec.workers}x${rec.intraOpThreads} ${rec.provider}) | ${rec.ofComputeLimit} | ${rec.ofParallelNaive} | ${rec.vsNaiveLoop} | ${rec.heldPerMin} | ${rec.camerasAtRate} | ${m.lineCheck ? `${m.lineCheck.parts}, ${m.lineCheck.timeouts}, ${m.lineCheck.latencyMs.p999}` : 'not run'} | ${py(m, 'torch')} | ${py(m, 'opencv')} |`;
    }),
  ].join('\n');
}

function lineCheckParagraph(m: BenchResult['models'][number], ratePerMin: number): string[] {
  const text = lineCheckText(m, ratePerMin);
  return text ? ['', `**Line check:** ${text.replace(/^line check: /, '')}.`] : [];
}

export function renderMarkdown(r: BenchResult, chartFiles: Record<string, string>): string {
  const s = r.settings;
  const out: string[] = [
    `# linesight bench: ${r.host.cpus} x ${r.host.cpu}`,
    '',
    `${r.date}, Linesight ${r.version}, Node ${r.host.node}, ${r.host.memoryGiB} GiB memory, load average ${r.host.loadAverage} at start. ` +
      `Frames: ${s.frame.label}, ${r.frames.count} JPEGs of ${Math.round(r.frames.meanBytes / 1024)} KiB on average (${r.frames.source}). ` +
      `Budget ${s.budgetMs} ms; ${s.stepSeconds} s measured per step${s.quick ? ' (quick run: one configuration, two steps)' : ''}. Providers present: ${r.providersPresent.join(', ')}.`,
    '',
    'Latency is from the frame\'s capture (the trigger, in free-run) to the verdict received by a subscriber on the local broker. ' +
      'A step is held when every part was decided by a worker within budget (no timeout, error or shed frame) at 95 % of the asked rate; p99.9 is the maximum when a step has fewer than 1000 parts.',
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
    renderSummary(r),
  ];
  for (const m of r.models) {
    const rec = m.recommendation;
    out.push('', `## ${m.model}${m.randomWeights ? ' (random weights: timing only)' : ''}`, '', `Input ${m.input.join('x')}. ${m.description}`, '', `Baselines: ${baselineLine(m)}.`, '');
    for (const p of m.baselines.python) {
      out.push(p.status === 'ok' ? `- ${p.label}: ${p.partsPerSec} parts/s (${p.version}, ${p.threads} thread(s); preprocess ${p.preprocessMsP50} ms, inference ${p.inferenceMsP50} ms): Linesight's recommended configuration does ${p.linesightRatio}x this.` : `- ${p.label}: skipped: ${p.note}`);
    }
    out.push(
      '',
      `**Recommended:** \`inference: { workers: ${rec.workers}, intraOpThreads: ${rec.intraOpThreads}, executionProviders: [${rec.provider}] }\`: ${rec.heldPerMin} parts/min within ${s.budgetMs} ms, ` +
        `${rec.camerasAtRate} camera(s) at ${rec.cameraRatePerMin} parts/min; saturated ${rec.saturatedPerSec} parts/s = ${rec.ofComputeLimit} of the compute limit, ${rec.ofParallelNaive} of the parallel naive loops, ${rec.vsNaiveLoop}x the naive loop. ${rec.reason}.`,
      ...lineCheckParagraph(m, rec.cameraRatePerMin),
      '',
      '| workers x threads, provider | saturated parts/s | of compute limit | of parallel naive loops | x naive loop | held parts/min | peak RSS MiB |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...m.configs.map((c) => `| ${c.workers} x ${c.intraOpThreads}, ${c.provider} | ${c.saturatedPerSec} | ${c.ofComputeLimit} | ${c.ofParallelNaive} | ${c.vsNaiveLoop} | ${c.heldPerMin} | ${c.rssPeakMiB} |`),
      '',
      '| config | rate parts/s (asked / got) | parts | p50 | p95 | p99 | p99.9 | max | preprocess p50/p99 | inference p50/p99 | timeout / error / shed | CPU | held |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|',
    );
    for (const c of m.configs) {
      for (const st of c.steps) {
        const l = st.latencyMs;
        out.push(
          `| ${c.workers}x${c.intraOpThreads} ${c.provider} | ${st.targetPerSec} / ${st.achievedPerSec} | ${st.parts} | ${l.p50} | ${l.p95} | ${l.p99} | ${l.p999} | ${l.max} | ${st.preprocessMs.p50} / ${st.preprocessMs.p99} | ${st.inferenceMs.p50} / ${st.inferenceMs.p99} | ${st.timeouts} / ${st.errors} / ${st.shed} | ${Math.round(st.cpu * 100)} % | ${st.held ? 'yes' : 'no'} |`,
        );
      }
    }
    const chart = chartFiles[m.model];
    if (chart) out.push('', `![p99.9 latency against rate, ${m.model}](${chart})`);
  }
  return out.join('\n') + '\n';
}
