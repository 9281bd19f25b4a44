// How many parts per minute (and cameras at a given line rate) this box inspects within budget.
//
//   npm run bench:throughput -- [--seconds 8] [--budget 100] [--line-rate 600] [--workers 1,2] [--model label-orientation]
//
// For each worker count: (1) capacity, a closed loop that keeps every worker busy; (2) an open
// loop through a real station at 80 % of that capacity, measuring capture-to-verdict latency and
// deadline misses. Ratios are against the 1-worker run of the same invocation. Results go to
// benchmarks/results/throughput.json (the README quotes them).
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/clock.js';
import { buildConfig } from '../src/config/load.js';
import { EventBus } from '../src/events.js';
import { silentLogger } from '../src/log.js';
import { ReplaySource } from '../src/capture/replay.js';
import { InferencePool } from '../src/inference/pool.js';
import { ModelRegistry } from '../src/models/registry.js';
import { Station } from '../src/pipeline/station.js';
import type { Verdict } from '../src/verdict.js';
import { percentile } from '../src/publish/console-summary.js';
import { bundledModelsDir, bundledSamplesDir, packageRoot } from '../src/paths.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    budget: { type: 'string', default: '100' },
    'line-rate': { type: 'string', default: '600' },
    workers: { type: 'string', default: '' },
    model: { type: 'string', default: 'label-orientation' },
  },
});
const seconds = Number(values.seconds);
const budgetMs = Number(values.budget);
const lineRatePerMin = Number(values['line-rate']);
const workerCounts = values.workers ? values.workers.split(',').map(Number) : [...new Set([1, 2, Math.max(1, cpus().length)])];
const samples = join(bundledSamplesDir, values.model);
const images = readdirSync(samples).filter((f) => /\.(jpe?g|png)$/i.test(f)).map((f) => readFileSync(join(samples, f)));

interface Run {
  workers: number;
  capacityPerMin: number;
  openLoop: { ratePerSec: number; parts: number; p50Ms: number; p99Ms: number; maxMs: number; deadlineMissed: number; shed: number };
  camerasAtLineRate: number;
}

async function capacity(pool: InferencePool, model: Parameters<InferencePool['infer']>[0]['model'], workers: number): Promise<number> {
  const end = systemClock.now() + seconds * 1000;
  let done = 0;
  let i = 0;
  const lane = async () => {
    while (systemClock.now() < end) {
      const r = await pool.infer({ station: 'bench', model, image: { kind: 'encoded', data: new Uint8Array(images[i++ % images.length]!) }, deadline: systemClock.now() + 60_000 });
      if (!r.ok) throw new Error(`inference failed: ${r.error.message}`);
      done++;
    }
  };
  const t0 = systemClock.now();
  await Promise.all(Array.from({ length: workers * 2 }, lane));
  return (done / (systemClock.now() - t0)) * 60_000;
}

async function openLoop(pool: InferencePool, model: { key: string; bytes: Uint8Array; manifest: any }, provider: string, ratePerSec: number) {
  const config = buildConfig(
    { stations: [{ id: 'bench', source: { type: 'replay', path: samples, ratePerSec }, model: values.model, budgetMs, maxQueue: 1000 }] },
    { origin: 'bench', baseDir: '/' },
  ).stations[0]!;
  const bus = new EventBus(silentLogger);
  const source = new ReplaySource('bench', config.source as never, { clock: systemClock });
  const station = new Station({ line: 'bench', config, source, pool, bus, clock: systemClock, log: silentLogger, runId: 'b' });
  station.setModel({ ref: model, manifest: model.manifest, provider });
  const verdicts: Verdict[] = [];
  let shed = 0;
  bus.on('verdict', (v) => verdicts.push(v));
  bus.on('frame-dropped', () => shed++);
  await station.start();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  await station.stop();
  const lat = verdicts.map((v) => v.timings.totalMs).sort((a, b) => a - b);
  return {
    ratePerSec: Math.round(ratePerSec * 10) / 10,
    parts: verdicts.length,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    maxMs: lat.at(-1) ?? NaN,
    deadlineMissed: verdicts.filter((v) => !v.deadlineMet).length,
    shed,
  };
}

async function main(): Promise<void> {
  const version = await new ModelRegistry(bundledModelsDir).resolve(values.model);
  const model = { key: version.key, bytes: version.bytes, manifest: version.manifest };
  const runs: Run[] = [];
  for (const workers of workerCounts) {
    const pool = new InferencePool({ workers, intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all', clock: systemClock, log: silentLogger });
    pool.start();
    const { provider } = await pool.warmUp(model);
    const cap = await capacity(pool, model, workers);
    const open = await openLoop(pool, model, provider, (cap / 60) * 0.8);
    await pool.close();
    // Cameras at the line rate that fit in 80 % of capacity, if latency stayed within budget.
    const cameras = open.p99Ms <= budgetMs ? Math.floor((cap * 0.8) / lineRatePerMin) : 0;
    runs.push({ workers, capacityPerMin: Math.round(cap), openLoop: open, camerasAtLineRate: cameras });
    process.stdout.write(
      `workers=${workers} capacity=${Math.round(cap)} parts/min  at ${open.ratePerSec}/s: p50=${open.p50Ms.toFixed(1)}ms p99=${open.p99Ms.toFixed(1)}ms max=${open.maxMs.toFixed(1)}ms missed=${open.deadlineMissed}/${open.parts} shed=${open.shed}  cameras@${lineRatePerMin}/min=${cameras}\n`,
    );
  }
  const base = runs[0]!;
  const result = {
    benchmark: 'throughput',
    date: new Date().toISOString(),
    host: { name: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
    model: `${version.manifest.name}@${version.manifest.version}`,
    budgetMs,
    lineRatePerMin,
    seconds,
    runs: runs.map((r) => ({ ...r, capacityRatioVsOneWorker: Math.round((r.capacityPerMin / base.capacityPerMin) * 100) / 100 })),
  };
  for (const r of result.runs) process.stdout.write(`workers=${r.workers}: ${r.capacityRatioVsOneWorker}x the capacity of workers=${base.workers}\n`);
  const dir = join(packageRoot, 'benchmarks', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'throughput.json'), JSON.stringify(result, null, 2) + '\n');
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
