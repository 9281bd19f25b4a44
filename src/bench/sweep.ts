// The configurations worth measuring on this box, and one configuration's measurement: its
// saturated throughput (the station overloaded), then stepped rates up to that saturation.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ExecutionProvider } from '../inference/runtimes/runtime.js';
import type { ModelManifest } from '../models/manifest.js';
import { runLoadPoint, type LoadPoint } from './load.js';
import { heldPerMin } from './recommend.js';
import type { ConfigResult, Step } from './result.js';
import { round } from './stats.js';

export interface SweepConfig {
  workers: number;
  intraOpThreads: number;
  provider: ExecutionProvider;
}

/**
 * Execution providers this box can load: the CPU always; CUDA and TensorRT when onnxruntime-node
 * has their provider libraries (a Jetson or GPU build; the npm package installs them only there).
 */
export function providersPresent(): ExecutionProvider[] {
  const out: ExecutionProvider[] = ['cpu'];
  let bin: string;
  try {
    bin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin');
  } catch {
    return out;
  }
  const has = (lib: string) => {
    const dirs = [join(bin, 'napi-v6', 'linux', process.arch), join(bin, 'napi-v3', 'linux', process.arch)];
    return dirs.some((d) => existsSync(join(d, lib)));
  };
  if (has('libonnxruntime_providers_cuda.so')) out.push('cuda');
  if (has('libonnxruntime_providers_tensorrt.so')) out.push('tensorrt');
  return out;
}

/** Workers 1..cores x intra-op threads 1..2 x providers; TFLite models have no providers to vary. */
export function sweepConfigs(cores: number, providers: readonly ExecutionProvider[], format: ModelManifest['format'], quick: boolean): SweepConfig[] {
  if (quick) return [{ workers: Math.min(2, cores), intraOpThreads: 1, provider: 'cpu' }];
  const out: SweepConfig[] = [];
  for (const provider of format === 'onnx' ? providers : (['cpu'] as const)) {
    for (let workers = 1; workers <= Math.max(1, cores); workers++) {
      for (const intraOpThreads of [1, 2]) out.push({ workers, intraOpThreads, provider });
    }
  }
  return out;
}

/**
 * Shares of the configuration's expected capacity stepped through: the lowest show the unloaded
 * latency, the highest pass saturation. Overloading the station far beyond capacity measures the
 * shedding more than the capacity (the replay camera and the shed frames cost the main thread),
 * so saturation is the most any step delivered, not one overloaded run.
 */
export function stepShares(quick: boolean): number[] {
  return quick ? [0.5, 0.9] : [0.25, 0.5, 0.7, 0.85, 1.0, 1.15];
}

/** Steps added past the planned ones while the last still held (capacity underestimated, e.g. a GPU). */
const maxExtraSteps = 3;

export interface MeasureConfigInput {
  base: Omit<LoadPoint, 'workers' | 'intraOpThreads' | 'provider' | 'ratePerSec'>;
  config: SweepConfig;
  quick: boolean;
  /** What the baselines say this configuration can do: min(workers, cores) / (preprocess + inference). */
  expectedPerSec: number;
  /** A line's rate (parts/s) measured as a step of its own when below the expected capacity. */
  lineRatePerSec: number;
  computeLimitPerSec: number;
  naiveLoopPerSec: number;
  parallelNaivePerSec: number;
  onStep: (label: string) => void;
}

export async function measureConfig(i: MeasureConfigInput): Promise<ConfigResult | { unavailable: string }> {
  const point = (ratePerSec: number): LoadPoint => ({ ...i.base, ...i.config, ratePerSec: Math.min(1000, ratePerSec) });
  const rates = stepShares(i.quick).map((s) => s * i.expectedPerSec);
  if (!i.quick && i.lineRatePerSec < i.expectedPerSec && !rates.some((r) => Math.abs(r - i.lineRatePerSec) < 0.05 * i.expectedPerSec)) rates.push(i.lineRatePerSec);
  rates.sort((a, b) => a - b);
  const steps: Step[] = [];
  let provider: string = i.config.provider;
  for (let k = 0; k < rates.length; k++) {
    const rate = rates[k]!;
    const out = await runLoadPoint(point(rate));
    if (out.provider !== i.config.provider) return { unavailable: `asked for ${i.config.provider}, the workers loaded ${out.provider}` };
    provider = out.provider;
    steps.push(out.step);
    i.onStep(`${round(rate)}/s: got ${out.step.achievedPerSec}/s, p99.9 ${out.step.latencyMs.p999} ms${out.step.held ? '' : ' (not held)'}`);
    const last = k === rates.length - 1;
    if (last && !i.quick && out.step.held && rate < 1000 && rates.length < stepShares(false).length + 1 + maxExtraSteps) rates.push(rate * 1.3);
  }
  const saturated = Math.max(...steps.map((s) => s.achievedPerSec));
  return {
    ...i.config,
    provider,
    saturatedPerSec: saturated,
    ofComputeLimit: round(saturated / i.computeLimitPerSec, 2),
    ofParallelNaive: round(saturated / i.parallelNaivePerSec, 2),
    vsNaiveLoop: round(saturated / i.naiveLoopPerSec, 2),
    heldPerMin: heldPerMin(steps),
    rssPeakMiB: Math.max(...steps.map((s) => s.rssMiB)),
    steps,
  };
}
