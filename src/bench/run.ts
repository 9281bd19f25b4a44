// One bench run, start to end: frames, models, then per model the baselines, the sweep of
// configurations through the real service, and a recommendation. Returns the result; writing
// files and printing are the caller's (cli-bench.ts).
import { readFileSync } from 'node:fs';
import { cpus, hostname, loadavg, totalmem } from 'node:os';
import { packageVersion } from '../version.js';
import { measureBaselines } from './baselines.js';
import { benchFrames, userFrames, type FrameSize } from './frames.js';
import { hasRandomWeights, resolveBenchModels } from './models.js';
import { pythonBaseline } from './python-baseline.js';
import { recommend } from './recommend.js';
import type { BenchResult, ConfigResult, ModelResult } from './result.js';
import { round } from './stats.js';
import { measureConfig, providersPresent, stepShares, sweepConfigs } from './sweep.js';
import { runLoadPoint } from './load.js';
import type { ExecutionProvider } from '../inference/runtimes/runtime.js';

export interface BenchOptions {
  /** Comma-separated model names, "bundled", "reference", or model directories. */
  models: string;
  frame: FrameSize;
  /** The buyer's own frames (a directory of JPEG or PNG files) instead of generated ones of `frame`. */
  framesDir?: string;
  budgetMs: number;
  cameraRatePerMin: number;
  quick: boolean;
  /** Measured seconds per load step (default: 2 quick, 4 full). */
  stepSeconds?: number;
  /** Skip the Python baselines (they need Debian's python3-torch / python3-opencv). */
  python?: boolean;
  /** Seconds to run the recommended configuration at one camera's rate after the sweep (0: not). */
  lineCheckSeconds?: number;
}

export interface BenchProgress {
  plan(steps: number): void;
  step(label: string): void;
  /** The result so far, after each model: a long run stopped midway keeps what it measured. */
  partial?(result: BenchResult): void;
}

export async function runBench(o: BenchOptions, progress: BenchProgress): Promise<BenchResult> {
  const t0 = Date.now();
  const cores = cpus().length;
  const load1 = round(loadavg()[0] ?? 0, 2);
  const stepSeconds = o.stepSeconds ?? (o.quick ? 2 : 4);
  const baselineSeconds = o.quick ? 1 : 3;
  const providers = providersPresent();
  const own = o.framesDir ? await userFrames(o.framesDir) : undefined;
  const frames = own ?? (await benchFrames(o.frame));
  const frame = own?.size ?? o.frame;
  const frameBytes = frames.files.map((f) => new Uint8Array(readFileSync(f)));
  const models = await resolveBenchModels(o.models);
  const lineSteps = o.quick ? 0 : 1;
  progress.plan(models.reduce((n, m) => n + 3 + (o.lineCheckSeconds ? 1 : 0) + sweepConfigs(cores, providers, m.version.manifest.format, o.quick).length * (stepShares(o.quick).length + lineSteps), 0));
  const notes: string[] = [];
  if (load1 > 0.5) notes.push(`The box was not quiet: load average ${load1} on ${cores} cores when the run began; figures are lower than on an idle box.`);
  notes.push('The service runs in a process of its own (CPU and RSS are its alone); its replay camera reads the frames from disk inside it, as a camera\'s frames would arrive there; the bench\'s subscriber and Python loops run beside it on the same cores.');
  const results: ModelResult[] = [];
  for (const m of models) {
    const name = `${m.version.manifest.name}@${m.version.manifest.version}`;
    const base = await measureBaselines(m.version, frameBytes, baselineSeconds);
    progress.step(`${name}: baselines, compute limit ${base.computeLimitPerSec}/s`);
    const python = [];
    for (const engine of ['torch', 'opencv'] as const) {
      python.push(
        o.python === false
          ? { engine, status: 'skipped' as const, label: `Python loop (${engine})`, note: 'turned off (--no-python)' }
          : await pythonBaseline(engine, m.version, frames.files, o.quick ? 1 : baselineSeconds + 2),
      );
      progress.step(`${name}: python ${engine}`);
    }
    const configs: ConfigResult[] = [];
    for (const config of sweepConfigs(cores, providers, m.version.manifest.format, o.quick)) {
      const label = `${name} ${config.workers}w x ${config.intraOpThreads}t ${config.provider}`;
      const r = await measureConfig({
        base: { modelsDir: m.root, model: m.ref, framesDir: frames.dir, budgetMs: o.budgetMs, seconds: stepSeconds, warmupSeconds: o.quick ? 0.5 : 1 },
        config,
        quick: o.quick,
        expectedPerSec: Math.max(1, (Math.min(config.workers, cores) * 1000) / (base.preprocessMsP50 + base.inferenceMsP50)),
        lineRatePerSec: o.cameraRatePerMin / 60,
        computeLimitPerSec: base.computeLimitPerSec,
        naiveLoopPerSec: base.naiveLoopPerSec,
        parallelNaivePerSec: base.parallelNaivePerSec,
        onStep: (s) => progress.step(`${label}: ${s}`),
      });
      if ('unavailable' in r) notes.push(`${label}: not measured, ${r.unavailable}.`);
      else configs.push(r);
    }
    if (!configs.length) throw new Error(`${name}: no configuration could be measured`);
    const recommendation = recommend(configs, o.cameraRatePerMin, o.budgetMs);
    let lineCheck: ModelResult['lineCheck'];
    if (o.lineCheckSeconds) {
      const out = await runLoadPoint({
        modelsDir: m.root, model: m.ref, framesDir: frames.dir, budgetMs: o.budgetMs, seconds: o.lineCheckSeconds, warmupSeconds: 1,
        workers: recommendation.workers, intraOpThreads: recommendation.intraOpThreads, provider: recommendation.provider as ExecutionProvider,
        ratePerSec: o.cameraRatePerMin / 60,
      });
      lineCheck = { ...out.step, seconds: o.lineCheckSeconds };
      progress.step(`${name}: line check at ${o.cameraRatePerMin}/min for ${o.lineCheckSeconds} s: ${out.step.timeouts} timeout(s), p99.9 ${out.step.latencyMs.p999} ms`);
    }
    for (const p of python) if (p.status === 'ok') p.linesightRatio = round(recommendation.saturatedPerSec / p.partsPerSec, 2);
    results.push({
      model: name,
      description: m.version.manifest.description ?? '',
      randomWeights: hasRandomWeights(m.version),
      input: [...m.version.manifest.input.shape],
      baselines: { ...base, python },
      configs,
      recommendation,
      ...(lineCheck ? { lineCheck } : {}),
    });
    progress.partial?.(summary());
  }
  return summary();

  function summary(): BenchResult {
    return {
      tool: 'linesight bench',
      version: packageVersion,
      date: new Date(t0).toISOString(),
      durationSec: Math.round((Date.now() - t0) / 1000),
      host: { name: hostname(), cpus: cores, cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: round(totalmem() / 2 ** 30), node: process.version, loadAverage: load1 },
      settings: { quick: o.quick, frame, budgetMs: o.budgetMs, cameraRatePerMin: o.cameraRatePerMin, stepSeconds },
      frames: frames.set,
      providersPresent: providers,
      notes,
      models: [...results],
    };
  }
}
