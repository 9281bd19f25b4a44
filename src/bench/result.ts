// The shape of one bench run: what the JSON file holds and every report is drawn from. Numbers
// are per second unless the name says per minute; times in ms.
import type { LatencySummary } from './stats.js';

export interface BenchHost {
  name: string;
  cpus: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  /** 1-minute load average when the run began: above 0 the box was not quiet. */
  loadAverage: number;
}

export interface BenchSettings {
  quick: boolean;
  frame: { width: number; height: number; label: string };
  budgetMs: number;
  cameraRatePerMin: number;
  /** Measured seconds per step (after a warm-up that is not counted). */
  stepSeconds: number;
}

export interface FrameSet {
  count: number;
  meanBytes: number;
  source: string;
}

export type PythonBaseline =
  | { engine: 'torch' | 'opencv'; status: 'ok'; label: string; version: string; threads: number; partsPerSec: number; preprocessMsP50: number; inferenceMsP50: number; /** Linesight's recommended configuration (saturated) divided by this loop. */ linesightRatio: number }
  | { engine: 'torch' | 'opencv'; status: 'skipped'; label: string; note: string };

export interface Baselines {
  /** How the service decodes these frames (its inference.jpegDecoder 'auto' on this build). */
  jpegDecoder: 'libjpeg-turbo' | 'sharp';
  /** Median decode + resize + normalise of one frame as the service does it, one thread. */
  preprocessMsP50: number;
  /** The same with sharp alone, as the naive loops decode. */
  sharpPreprocessMsP50: number;
  /** Median inference on a prepared tensor, one intra-op thread. */
  inferenceMsP50: number;
  /** cores / (preprocess + single-thread inference): what the CPUs allow with no overhead at all. */
  computeLimitPerSec: number;
  /** One thread: decode (sharp), then run, then the next frame. */
  naiveLoopPerSec: number;
  /**
   * One naive loop per core, all at once, summed: what the cores deliver in parallel with no
   * service around them. Below the compute limit where cores share execution units.
   */
  parallelNaivePerSec: number;
  /** session.run on one prepared tensor, one thread: the model alone. */
  rawRunPerSec: number;
  python: PythonBaseline[];
}

export interface Step {
  targetPerSec: number;
  /** Parts a worker ran to the end, per second, late ones included (refused and shed ones not). */
  achievedPerSec: number;
  /** Verdicts received on the local broker in the measured window. */
  parts: number;
  /** Trigger (frame capture) to verdict received from the local broker. */
  latencyMs: LatencySummary;
  /** Of which the worker's share: decode + preprocess, and inference (p50 / p99). */
  preprocessMs: { p50: number; p99: number };
  inferenceMs: { p50: number; p99: number };
  timeouts: number;
  errors: number;
  /** Frames shed under overload (free-run) in the window. */
  shed: number;
  /** Share of the whole box's CPU (1 = every core busy). */
  cpu: number;
  rssMiB: number;
  /** Every part decided by a worker within budget at the rate asked for. */
  held: boolean;
}

export interface ConfigResult {
  workers: number;
  intraOpThreads: number;
  provider: string;
  /** The most parts/s any step had run to the end by a worker (end to end, through the broker): the capacity. */
  saturatedPerSec: number;
  ofComputeLimit: number;
  /** Saturated throughput over the parallel naive loops (one per core at once, no service). */
  ofParallelNaive: number;
  vsNaiveLoop: number;
  /** Highest stepped rate held with p99.9 within budget, in parts/min (0: none). */
  heldPerMin: number;
  rssPeakMiB: number;
  steps: Step[];
}

export interface Recommendation {
  workers: number;
  intraOpThreads: number;
  provider: string;
  heldPerMin: number;
  camerasAtRate: number;
  cameraRatePerMin: number;
  saturatedPerSec: number;
  ofComputeLimit: number;
  ofParallelNaive: number;
  vsNaiveLoop: number;
  reason: string;
}

export interface ModelResult {
  model: string;
  description: string;
  randomWeights: boolean;
  input: number[];
  baselines: Baselines;
  configs: ConfigResult[];
  recommendation: Recommendation;
  /**
   * The recommended configuration at one camera's rate for longer than a step (--line-check):
   * enough parts for a p99.9 of its own, and every timeout counted. Absent when not run.
   */
  lineCheck?: Step & { seconds: number };
}

export interface BenchResult {
  tool: 'linesight bench';
  version: string;
  date: string;
  durationSec: number;
  host: BenchHost;
  settings: BenchSettings;
  frames: FrameSet;
  providersPresent: string[];
  notes: string[];
  models: ModelResult[];
}
