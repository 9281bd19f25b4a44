// Memory of the service against what a user would run instead, in the same run: the service (one
// model, its workers, the replay camera, the local MQTT publisher and the embedded broker, a
// subscriber in this process) fed frames at a rate; a one-thread script doing the same work
// (src/bench/naive-process.ts: read, decode with sharp, run, drop); and Node.js alone. Rounds
// alternate, since the host drifts. With --allocator the service also runs with glibc's
// allocator settings from README "Memory"; with --free-buffers-early, with that option on. Every
// process gets the service's V8 flag (--max-semi-space-size=2), so the ratios are what the
// service's structure costs, not the flag.
// Per process: steady RSS (median of the window's second half), peak, and where the steady RSS
// is (/proc/<pid>/smaps: the node binary, libraries, the main malloc heap, the rest).
//
//   linesight bench memory [--model label-orientation] [--workers 2] [--threads 1] [--rate 10]
//     [--seconds 30] [--warmup 3] [--rounds 2] [--frame 1280x1024] [--allocator]
//     [--free-buffers-early] [--out FILE]
//
// Writes benchmarks/results/memory.json (or --out). Linux only (/proc).
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchFrames, frameSizes, type FrameSize } from '../src/bench/frames.js';
import { runLoadPoint } from '../src/bench/load.js';
import { classifySmaps, type RssBreakdown } from '../src/bench/memory-map.js';
import { resolveBenchModels } from '../src/bench/models.js';
import type { NaiveJob } from '../src/bench/naive-process.js';
import { procReadable, ResourceWindow } from '../src/bench/resources.js';
import { median, round } from '../src/bench/stats.js';
import { packageRoot } from '../src/paths.js';

/** A bad option: its name and value on stderr, exit 1, no stack trace. */
function refuse(message: string): never {
  console.error(`memory bench: ${message}`);
  process.exit(1);
}

const options = {
    model: { type: 'string', default: 'label-orientation' },
    workers: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1' },
    rate: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    budget: { type: 'string', default: '100' },
    frame: { type: 'string', default: '1280x1024' },
    allocator: { type: 'boolean', default: false },
    'free-buffers-early': { type: 'boolean', default: false },
    'target-mib': { type: 'string', default: '150' },
    out: { type: 'string', default: join(packageRoot, 'benchmarks', 'results', 'memory.json') },
} as const;
const { values } = (() => {
  try {
    return parseArgs({ options });
  } catch (err) {
    return refuse((err as Error).message);
  }
})();

const num = (name: keyof typeof values, min: number): number => {
  const v = Number(values[name]);
  if (!Number.isFinite(v) || v < min) refuse(`--${name}: got ${JSON.stringify(values[name])}, expected a number of at least ${min}`);
  return v;
};
const rate = num('rate', 0.1);
const seconds = num('seconds', 1);
const warmup = num('warmup', 0);
const rounds = Math.floor(num('rounds', 1));
const targetMiB = num('target-mib', 1);
const workers = Math.floor(num('workers', 1));
const threads = Math.floor(num('threads', 1));
const budgetMs = num('budget', 1);
const frame: FrameSize = (() => {
  const f = frameSizes[values.frame!];
  if (!f) refuse(`--frame: got ${JSON.stringify(values.frame)}, expected one of ${Object.keys(frameSizes).join(', ')}`);
  return f;
})();
if (!procReadable()) refuse('the memory bench reads /proc (Linux)');

/** What `--allocator` sets: glibc gives buffers of 128 KiB or more back at once, and keeps two arenas. */
const allocatorEnv = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };
const v8Flags = ['--max-semi-space-size=2'];
const nodeBinary = realpathSync(process.execPath);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Measure {
  steadyMiB: number;
  peakMiB: number;
  cpu: number;
  breakdown: RssBreakdown;
  partsPerSec: number;
  /** CPU time per part decided (ms), for what a memory setting costs. */
  cpuMsPerPart?: number;
  /** The service's verdicts: timeouts and p99 (the load was real and on time). */
  timeouts?: number;
  p99Ms?: number;
  /** The naive script: parts that started after they were due (it fell behind). */
  late?: number;
}

const breakdownOf = (pid: number) => classifySmaps(readFileSync(`/proc/${pid}/smaps`, 'utf8'), nodeBinary);

/** Steady and peak RSS of a started process over the measured window, after the warm-up. */
async function window(pid: number): Promise<Omit<Measure, 'partsPerSec'>> {
  const resources = new ResourceWindow(pid);
  await sleep(warmup * 1000);
  resources.reset();
  await sleep(seconds * 1000);
  const breakdown = breakdownOf(pid);
  const used = resources.end();
  return { steadyMiB: used.rssSteadyMiB, peakMiB: used.rssMiB, cpu: used.cpu, breakdown };
}

function message<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as T));
    child.once('exit', (code) => reject(new Error(`a measured process exited (${code}) before it answered`)));
  });
}

async function service(m: { root: string; ref: string }, framesDir: string, variant: { env?: Record<string, string>; freeBuffersEarly?: boolean } = {}): Promise<Measure> {
  let breakdown: RssBreakdown | undefined;
  const { step, rssSteadyMiB, cpuSeconds } = await runLoadPoint(
    {
      modelsDir: m.root, model: m.ref, framesDir, workers, intraOpThreads: threads, provider: 'cpu',
      budgetMs, ratePerSec: rate, seconds, warmupSeconds: warmup, freeBuffersEarly: variant.freeBuffersEarly ?? false,
    },
    { ...(variant.env ? { env: variant.env } : {}), atWindowEnd: (pid) => (breakdown = breakdownOf(pid)) },
  );
  const cpuMsPerPart = round((cpuSeconds * 1000) / Math.max(1, step.achievedPerSec * seconds), 2);
  return { steadyMiB: rssSteadyMiB, peakMiB: step.rssMiB, cpu: step.cpu, cpuMsPerPart, breakdown: breakdown!, partsPerSec: step.achievedPerSec, timeouts: step.timeouts, p99Ms: step.latencyMs.p99 };
}

async function naiveScript(job: NaiveJob): Promise<Measure> {
  const child = fork(new URL('../src/bench/naive-process.js', import.meta.url), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: v8Flags });
  try {
    const ready = message<{ ready?: boolean; error?: string }>(child);
    child.send(job);
    const r = await ready;
    if (!r.ready) throw new Error(`the naive script did not start: ${r.error}`);
    const w = await window(child.pid!);
    const done = message<{ parts: number; late: number }>(child);
    child.send({ stop: true });
    const { parts, late } = await done;
    return { ...w, partsPerSec: round(parts / (seconds + warmup), 1), late };
  } finally {
    child.kill('SIGKILL');
  }
}

async function nodeAlone(): Promise<Measure> {
  const child = spawn(process.execPath, [...v8Flags, '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await sleep(500);
    return { ...(await window(child.pid!)), partsPerSec: 0 };
  } finally {
    child.kill('SIGKILL');
  }
}

const span = (xs: number[]) => (Math.min(...xs) === Math.max(...xs) ? `${Math.min(...xs)}` : `${Math.min(...xs)}-${Math.max(...xs)}`);
const mid = (xs: number[]) => round(median(xs), 1);

async function main(): Promise<void> {
  const [m] = await resolveBenchModels(values.model!);
  if (!m) throw new Error('--model: no model');
  const frames = await benchFrames(frame);
  const name = `${m.version.manifest.name}@${m.version.manifest.version}`;
  const variants: Array<[string, () => Promise<Measure>]> = [
    ['Linesight (the service)', () => service(m, frames.dir)],
    ...(values.allocator ? ([['Linesight, allocator settings', () => service(m, frames.dir, { env: allocatorEnv })]] as Array<[string, () => Promise<Measure>]>) : []),
    ...(values['free-buffers-early'] ? ([['Linesight, freeBuffersEarly', () => service(m, frames.dir, { freeBuffersEarly: true })]] as Array<[string, () => Promise<Measure>]>) : []),
    ['naive script (1 thread)', () => naiveScript({ modelsDir: m.root, model: m.ref, frames: frames.files, ratePerSec: rate })],
    ['Node.js alone', nodeAlone],
  ];
  const runs = new Map<string, Measure[]>(variants.map(([label]) => [label, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [label, measure] of variants) {
      process.stdout.write(`round ${r + 1}/${rounds}: ${label}...`);
      const got = await measure();
      runs.get(label)!.push(got);
      process.stdout.write(` steady ${got.steadyMiB} MiB, peak ${got.peakMiB}\n`);
    }
  }
  const steady = (label: string) => mid(runs.get(label)!.map((x) => x.steadyMiB));
  const svc = steady('Linesight (the service)');
  const naive = steady('naive script (1 thread)');
  const bare = steady('Node.js alone');
  const ratios = {
    serviceOverNaiveScript: round(svc / naive, 2),
    serviceOverTarget: round(svc / targetMiB, 2),
    serviceMinusNodeAloneMiB: svc - bare,
    naiveScriptMinusNodeAloneMiB: naive - bare,
    ...(values.allocator ? { allocatorOverDefault: round(steady('Linesight, allocator settings') / svc, 2) } : {}),
    ...(values['free-buffers-early'] ? { freeBuffersEarlyOverDefault: round(steady('Linesight, freeBuffersEarly') / svc, 2) } : {}),
  };

  const header = `${'process'.padEnd(32)}${'steady MiB'.padStart(12)}${'peak'.padStart(10)}${'node bin'.padStart(10)}${'libs'.padStart(7)}${'malloc'.padStart(8)}${'anon'.padStart(7)}${'parts/s'.padStart(9)}${'cpu'.padStart(6)}${'cpu ms/part'.padStart(14)}`;
  console.log(`\nmemory: ${name}, ${workers} workers x ${threads} thread(s), ${rate} parts/s of ${frame.label} JPEG, ${seconds} s x ${rounds} round(s), Node ${process.version}`);
  console.log(header);
  for (const [label, xs] of runs) {
    const b = xs.at(-1)!.breakdown;
    console.log(
      `${label.padEnd(32)}${span(xs.map((x) => x.steadyMiB)).padStart(12)}${span(xs.map((x) => x.peakMiB)).padStart(10)}${String(b.nodeBinaryMiB).padStart(10)}${String(b.librariesMiB).padStart(7)}${String(b.mallocHeapMiB).padStart(8)}${String(b.anonymousMiB).padStart(7)}${String(xs.at(-1)!.partsPerSec).padStart(9)}${String(xs.at(-1)!.cpu).padStart(6)}${(xs.every((x) => x.cpuMsPerPart !== undefined) ? span(xs.map((x) => x.cpuMsPerPart!)) : '').padStart(14)}`,
    );
  }
  const last = runs.get('Linesight (the service)')!.at(-1)!;
  console.log(`(breakdown: the last round's steady state; the service's last round: ${last.timeouts} timeout(s), p99 ${last.p99Ms} ms)`);
  console.log(`\nLinesight steady ${svc} MiB = ${ratios.serviceOverNaiveScript}x the naive script's ${naive} MiB; Node.js alone ${bare} MiB, so the service adds ${ratios.serviceMinusNodeAloneMiB} MiB to it and the script ${ratios.naiveScriptMinusNodeAloneMiB}.`);
  console.log(`Target ${targetMiB} MiB: ${svc <= targetMiB ? 'met' : 'not met'} (${ratios.serviceOverTarget}x).${values.allocator ? ` Allocator settings: ${ratios.allocatorOverDefault}x the default.` : ''}${values['free-buffers-early'] ? ` freeBuffersEarly: ${ratios.freeBuffersEarlyOverDefault}x the default.` : ''}`);

  const result = {
    bench: 'memory',
    date: new Date().toISOString(),
    host: { name: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
    settings: { model: name, workers, intraOpThreads: threads, ratePerSec: rate, frame: frame.label, seconds, warmupSeconds: warmup, rounds, v8Flags, targetMiB, ...(values.allocator ? { allocatorEnv } : {}) },
    runs: Object.fromEntries(runs),
    ratios,
  };
  mkdirSync(dirname(values.out!), { recursive: true });
  writeFileSync(values.out!, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${values.out}`);
}

main().catch((err: Error) => {
  console.error(`memory bench: ${err.message}`);
  process.exit(1);
});
