// Hot swaps under load: lost parts, swap-caused timeouts, latency during swaps against steady
// state, and memory after 1 and after 50 swaps.
//
//   npm run bench:swaps -- [--rate 10] [--steady 15] [--swaps 20] [--memory-swaps 50] [--budget 100] [--workers 2]
//
// Runs a real station (replay source, worker-thread pool, onnxruntime) with the bundled model as two
// versions (1.0.0 and 1.1.0: same weights, separate sessions). Ratios are against the steady
// phase of the same run. Writes benchmarks/results/swaps.json.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/clock.js';
import { buildConfig } from '../src/config/load.js';
import { EventBus } from '../src/events.js';
import { silentLogger } from '../src/log.js';
import { ReplaySource } from '../src/capture/replay.js';
import { ActiveModelStore } from '../src/models/active-store.js';
import { ModelManager } from '../src/models/manager.js';
import { InferencePool } from '../src/inference/pool.js';
import { ModelRegistry } from '../src/models/registry.js';
import { Station } from '../src/pipeline/station.js';
import type { Verdict } from '../src/verdict.js';
import { percentile } from '../src/publish/console-summary.js';
import { bundledModelsDir, bundledSamplesDir, packageRoot } from '../src/paths.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '10' },
    steady: { type: 'string', default: '15' },
    swaps: { type: 'string', default: '20' },
    'memory-swaps': { type: 'string', default: '50' },
    budget: { type: 'string', default: '100' },
    workers: { type: 'string', default: '2' },
    'swap-interval-ms': { type: 'string', default: '1000' },
  },
});
const rate = Number(values.rate);
const budgetMs = Number(values.budget);
const gc = (globalThis as { gc?: () => void }).gc;

function rssMiB(): number {
  gc?.();
  return Math.round((process.memoryUsage().rss / 1024 / 1024) * 10) / 10;
}

function stats(vs: Verdict[]) {
  const lat = vs.map((v) => v.timings.totalMs).sort((a, b) => a - b);
  return { parts: vs.length, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), maxMs: lat.at(-1) ?? NaN, timeouts: vs.filter((v) => v.verdict === 'timeout').length, errors: vs.filter((v) => v.verdict === 'error').length };
}

async function main(): Promise<void> {
  const models = mkdtempSync(join(tmpdir(), 'linesight-bench-models-'));
  const state = mkdtempSync(join(tmpdir(), 'linesight-bench-state-'));
  const src = join(bundledModelsDir, 'label-orientation', '1.0.0');
  const manifest = JSON.parse(readFileSync(join(src, 'manifest.json'), 'utf8'));
  for (const version of ['1.0.0', '1.1.0']) {
    const dir = join(models, 'label-orientation', version);
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(src, 'model.onnx'), join(dir, 'model.onnx'));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, version }));
  }
  const config = buildConfig(
    { stations: [{ id: 'bench', source: { type: 'replay', path: join(bundledSamplesDir, 'label-orientation'), ratePerSec: rate }, model: 'label-orientation@1.0.0', budgetMs }] },
    { origin: 'bench', baseDir: '/' },
  ).stations[0]!;
  const pool = new InferencePool({ workers: Number(values.workers), intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all', clock: systemClock, log: silentLogger });
  pool.start();
  const bus = new EventBus(silentLogger);
  const station = new Station({ line: 'bench', config, source: new ReplaySource('bench', config.source as never, { clock: systemClock }), pool, bus, clock: systemClock, log: silentLogger, runId: 'b' });
  const manager = new ModelManager({
    registry: new ModelRegistry(models),
    pool,
    stations: [station],
    configured: new Map([['bench', 'label-orientation@1.0.0']]),
    store: new ActiveModelStore(state),
    bus,
    clock: systemClock,
    log: silentLogger,
    autoRollback: { parts: 0, maxFailureRate: 1 },
  });
  await manager.start();
  const verdicts: Verdict[] = [];
  bus.on('verdict', (v) => verdicts.push(v));
  await station.start();

  const nextWith = (version: string) =>
    new Promise<void>((resolve) => {
      const off = bus.on('verdict', (v) => {
        if (v.model?.version === version) {
          off();
          resolve();
        }
      });
    });
  const swap = async (i: number) => {
    const to = i % 2 ? '1.1.0' : '1.0.0';
    const seen = nextWith(to);
    await manager.activate('bench', `label-orientation@${to}`);
    await seen;
  };

  await new Promise((r) => setTimeout(r, 2000)); // settle after start
  let mark = verdicts.length;
  await new Promise((r) => setTimeout(r, Number(values.steady) * 1000));
  const steady = stats(verdicts.slice(mark));

  mark = verdicts.length;
  for (let i = 1; i <= Number(values.swaps); i++) {
    const started = Date.now();
    await swap(i);
    // Swaps spaced out so the window holds enough parts for a meaningful p99.
    await new Promise((r) => setTimeout(r, Math.max(0, Number(values['swap-interval-ms']) - (Date.now() - started))));
  }
  const during = stats(verdicts.slice(mark));

  await new Promise((r) => setTimeout(r, 1000));
  const rss1 = await (async () => {
    await swap(1);
    await new Promise((r) => setTimeout(r, 1000));
    return rssMiB();
  })();
  const trajectory: Array<[number, number]> = [[1, rss1]];
  for (let i = 2; i <= Number(values['memory-swaps']); i++) {
    await swap(i);
    if (i % 10 === 0) trajectory.push([i, rssMiB()]);
  }
  await new Promise((r) => setTimeout(r, 1000));
  const rss50 = rssMiB();

  await station.stop();
  await pool.close();
  const bySeq = [...verdicts].sort((a, b) => a.seq - b.seq);
  const lost = bySeq.length ? bySeq.at(-1)!.seq - bySeq.length : 0;
  const result = {
    benchmark: 'swaps',
    date: new Date().toISOString(),
    host: { name: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
    ratePerSec: rate,
    budgetMs,
    workers: Number(values.workers),
    steady,
    duringSwaps: { swaps: Number(values.swaps), ...during },
    lostParts: lost,
    swapCausedTimeouts: during.timeouts - Math.round((steady.timeouts / Math.max(1, steady.parts)) * during.parts),
    p99RatioDuringSwapsVsSteady: Math.round((during.p99Ms / steady.p99Ms) * 100) / 100,
    rssMiB: { afterOneSwap: rss1, afterManySwaps: rss50, swaps: Number(values['memory-swaps']), ratio: Math.round((rss50 / rss1) * 100) / 100, gcBeforeMeasuring: !!gc, trajectory },
  };
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  const dir = join(packageRoot, 'benchmarks', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'swaps.json'), JSON.stringify(result, null, 2) + '\n');
  rmSync(models, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
