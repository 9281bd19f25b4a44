// Shadow trials against the active version's latency: p99 at 600 parts/min with and without a
// shadow trial of the same model (a second version: same weights, its own sessions), and the
// timeouts when capacity is gone (a rate the pool can barely serve), with and without a trial.
//
//   npm run bench:shadow -- [--rate 10] [--phase 10] [--passes 2] [--overload-rate 150] [--overload 8] [--budget 100] [--workers 2]
//
// Phases alternate (baseline, shadow, baseline, shadow, ...) so drift on a shared machine hits
// both alike; ratios are against the baseline phases of the same run. Writes
// benchmarks/results/shadow.json.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
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
import { ShadowTrials } from '../src/shadow/trials.js';
import type { Verdict } from '../src/verdict.js';
import { percentile } from '../src/publish/console-summary.js';
import { bundledModelsDir, bundledSamplesDir, packageRoot } from '../src/paths.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '10' },
    phase: { type: 'string', default: '10' },
    passes: { type: 'string', default: '2' },
    'overload-rate': { type: 'string', default: '150' },
    overload: { type: 'string', default: '8' },
    budget: { type: 'string', default: '100' },
    workers: { type: 'string', default: '2' },
  },
});
const budgetMs = Number(values.budget);
const workers = Number(values.workers);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stats(vs: Verdict[]) {
  const lat = vs.map((v) => v.timings.totalMs).sort((a, b) => a - b);
  return { parts: vs.length, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), maxMs: lat.at(-1) ?? NaN, timeouts: vs.filter((v) => v.verdict === 'timeout').length, errors: vs.filter((v) => v.verdict === 'error').length };
}

/** One station at `rate` parts/s on its own pool, with the two versions on disk and a trial manager. */
async function rig(models: string, rate: number) {
  const state = mkdtempSync(join(tmpdir(), 'linesight-bench-state-'));
  const config = buildConfig(
    { stations: [{ id: 'bench', source: { type: 'replay', path: join(bundledSamplesDir, 'label-orientation'), ratePerSec: rate }, model: 'label-orientation@1.0.0', budgetMs }] },
    { origin: 'bench', baseDir: '/' },
  ).stations[0]!;
  const pool = new InferencePool({ workers, intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all', clock: systemClock, log: silentLogger });
  pool.start();
  const bus = new EventBus(silentLogger);
  const station = new Station({ line: 'bench', config, source: new ReplaySource('bench', config.source as never, { clock: systemClock }), pool, bus, clock: systemClock, log: silentLogger, runId: 'b' });
  const manager = new ModelManager({ registry: new ModelRegistry(models), pool, stations: [station], configured: new Map([['bench', 'label-orientation@1.0.0']]), store: new ActiveModelStore(state), bus, clock: systemClock, log: silentLogger, autoRollback: { parts: 0, maxFailureRate: 1 } });
  await manager.start();
  const trials = new ShadowTrials({
    stations: [station],
    models: manager,
    pool,
    bus,
    clock: systemClock,
    log: silentLogger,
    defaults: { share: 1, policy: { minParts: Number.MAX_SAFE_INTEGER, minAgreement: 1, maxErrors: 0, maxLatencyMs: null, mode: 'manual' } },
    maxLagMs: 500,
    reportEveryParts: 0,
    maxDisagreements: 10,
  });
  trials.start();
  const verdicts: Verdict[] = [];
  bus.on('verdict', (v) => verdicts.push(v));
  await station.start();
  await sleep(2000); // every thread's first decode, and the replay's first pass
  const phase = async (withTrial: boolean, seconds: number) => {
    let trial: { parts: number; dropped: number; skipped: number; errors: number } | undefined;
    if (withTrial) await trials.begin('bench', { model: 'label-orientation@1.1.0' });
    await sleep(500); // the candidate's load is an activation's cost, not the trial's
    const mark = verdicts.length;
    await sleep(seconds * 1000);
    const s = stats(verdicts.slice(mark));
    if (withTrial) {
      const r = await trials.end('bench');
      trial = { parts: r.parts, dropped: r.dropped, skipped: r.skipped, errors: r.errors };
    }
    return { ...s, ...(trial ? { trial } : {}) };
  };
  const close = async () => {
    await trials.stop();
    await station.stop();
    await pool.close();
    rmSync(state, { recursive: true, force: true });
  };
  return { phase, close, pool };
}

function merge(runs: Array<ReturnType<typeof stats>>) {
  return { parts: runs.reduce((n, r) => n + r.parts, 0), p99Ms: Math.max(...runs.map((r) => r.p99Ms)), timeouts: runs.reduce((n, r) => n + r.timeouts, 0) };
}

async function main(): Promise<void> {
  const models = mkdtempSync(join(tmpdir(), 'linesight-bench-models-'));
  const src = join(bundledModelsDir, 'label-orientation', '1.0.0');
  const manifest = JSON.parse(readFileSync(join(src, 'manifest.json'), 'utf8'));
  for (const version of ['1.0.0', '1.1.0']) {
    const dir = join(models, 'label-orientation', version);
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(src, 'model.onnx'), join(dir, 'model.onnx'));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, version }));
  }
  const load = loadavg()[0];

  const steady = await rig(models, Number(values.rate));
  const baseline: Array<ReturnType<typeof stats>> = [];
  const shadow: Array<Awaited<ReturnType<typeof steady.phase>>> = [];
  for (let i = 0; i < Number(values.passes); i++) {
    baseline.push(await steady.phase(false, Number(values.phase)));
    shadow.push(await steady.phase(true, Number(values.phase)));
  }
  const spareSteady = steady.pool.stats.spare;
  await steady.close();

  const over = await rig(models, Number(values['overload-rate']));
  const overBaseline = await over.phase(false, Number(values.overload));
  const overShadow = await over.phase(true, Number(values.overload));
  const spareOver = over.pool.stats.spare;
  await over.close();

  const b = merge(baseline);
  const s = merge(shadow);
  const result = {
    benchmark: 'shadow',
    date: new Date().toISOString(),
    host: { name: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverage1m: load },
    budgetMs,
    workers,
    at600PartsPerMin: {
      ratePerSec: Number(values.rate),
      baseline: { ...b, phases: baseline },
      withShadow: { ...s, phases: shadow },
      p99RatioShadowVsBaseline: Math.round((s.p99Ms / b.p99Ms) * 100) / 100,
      p50RatioShadowVsBaseline: Math.round((percentile(shadow.map((x) => x.p50Ms).sort((x, y) => x - y), 50) / percentile(baseline.map((x) => x.p50Ms).sort((x, y) => x - y), 50)) * 100) / 100,
      shadowRuns: { completed: spareSteady.completed, dropped: spareSteady.dropped },
    },
    capacityGone: {
      ratePerSec: Number(values['overload-rate']),
      baseline: overBaseline,
      withShadow: overShadow,
      shadowRuns: { completed: spareOver.completed, dropped: spareOver.dropped },
    },
  };
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  const dir = join(packageRoot, 'benchmarks', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'shadow.json'), JSON.stringify(result, null, 2) + '\n');
  rmSync(models, { recursive: true, force: true });
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
