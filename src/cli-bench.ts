// `linesight bench`: size the hardware for a line. Parses and checks the options, runs the bench
// (src/bench/run.ts) with a progress bar, prints the table and writes JSON, Markdown and SVG.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LinesightError } from './errors.js';
import { frameSizes, type FrameSize } from './bench/frames.js';
import { Progress } from './bench/report/progress.js';
import { renderMarkdown } from './bench/report/markdown.js';
import { renderSvg } from './bench/report/svg.js';
import { renderTable } from './bench/report/table.js';
import { runBench, type BenchOptions } from './bench/run.js';
import { regressionUsage, runRegression } from './bench/regressions.js';

export const benchUsage = `linesight bench [options]
linesight bench NAME [its options]

  Sizes this box for a line: sweeps workers x intra-op threads x execution providers through the
  real service (camera replay, pool, local MQTT), measures latency at stepped rates up to
  saturation, compares with the compute limit, a naive loop, raw session.run and a Python loop,
  and recommends a configuration.

  --model LIST        models: bundled names, reference models (mobilenetv3-small, mobilenetv2,
                      efficientnet-b0, resnet50; random weights, exported on first use), "bundled",
                      "reference", or a model version directory (default: bundled;
                      quick: label-orientation)
  --frame SIZE        camera frame: 1280x1024 (default), 5mp, 12mp, or WIDTHxHEIGHT
  --frames DIR        your camera's own frames instead (the JPEG or PNG files in DIR, as the
                      camera writes them): decode cost depends on the scene and the encoder
  --budget MS         latency budget per part (default 100)
  --camera-rate N     parts/min per camera, for "cameras carried" (default 600)
  --seconds S         measured seconds per load step (default 4; quick 2)
  --quick             one configuration, two steps (under a minute: CI smoke runs)
  --line-check S      then run the recommended configuration at one camera's rate for S seconds
                      and count every timeout (default 60; quick 0: off)
  --no-python         skip the Python baselines
  --out DIR           where bench.json, bench.md and the SVG charts go (default ./linesight-bench)

${regressionUsage}`;

type Io = { out: { write: (s: string) => unknown; isTTY?: boolean }; err: { write: (s: string) => unknown; isTTY?: boolean } };

const bad = (option: string, value: string, expected: string) => new LinesightError('LS_ERR_BENCH_OPTION', `got ${JSON.stringify(value)}, expected ${expected}`, { args: [option] });

function parseNumber(option: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw bad(option, value, `a number from ${min} to ${max}`);
  return n;
}

export function parseFrame(value: string): FrameSize {
  const known = frameSizes[value.toLowerCase()];
  if (known) return known;
  const m = /^(\d{2,5})x(\d{2,5})$/i.exec(value);
  if (!m) throw bad('--frame', value, `one of ${Object.keys(frameSizes).join(', ')} or WIDTHxHEIGHT`);
  const width = Number(m[1]);
  const height = Number(m[2]);
  if (width < 64 || height < 64 || width * height > 25_000_000) throw bad('--frame', value, 'at least 64x64 and at most 25 MP');
  return { width, height, label: `${Math.round((width * height) / 1e5) / 10} MP (${width}x${height})` };
}

export function parseBenchArgs(argv: string[]): { options: BenchOptions; outDir: string; help: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      frame: { type: 'string' },
      frames: { type: 'string' },
      budget: { type: 'string', default: '100' },
      'camera-rate': { type: 'string', default: '600' },
      seconds: { type: 'string' },
      'line-check': { type: 'string' },
      quick: { type: 'boolean', default: false },
      'no-python': { type: 'boolean', default: false },
      out: { type: 'string', default: 'linesight-bench' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.frame !== undefined && values.frames !== undefined) throw bad('--frame', values.frame, 'no --frame with --frames (the frames have their own size)');
  return {
    help: values.help,
    outDir: resolve(values.out),
    options: {
      // A quick run sizes the demo's model only: a smoke test, not a buyer's answer.
      models: values.model ?? (values.quick ? 'label-orientation' : 'bundled'),
      frame: parseFrame(values.frame ?? '1280x1024'),
      ...(values.frames === undefined ? {} : { framesDir: values.frames }),
      budgetMs: parseNumber('--budget', values.budget, 1, 60_000),
      cameraRatePerMin: parseNumber('--camera-rate', values['camera-rate'], 1, 60_000),
      quick: values.quick,
      python: !values['no-python'],
      lineCheckSeconds: values['line-check'] === undefined ? (values.quick ? 0 : 60) : parseNumber('--line-check', values['line-check'], 0, 3600),
      ...(values.seconds === undefined ? {} : { stepSeconds: parseNumber('--seconds', values.seconds, 0.5, 600) }),
    },
  };
}

export async function benchCommand(argv: string[], io: Io, regression = runRegression): Promise<number> {
  const first = argv[0];
  if (first !== undefined && !first.startsWith('-')) return regression(first, argv.slice(1));
  const { options, outDir, help } = parseBenchArgs(argv);
  if (help) {
    io.out.write(benchUsage);
    return 0;
  }
  let progress: Progress | undefined;
  mkdirSync(outDir, { recursive: true });
  const result = await runBench(options, {
    plan: (steps) => (progress = new Progress(steps, io.err)),
    step: (label) => progress?.step(label),
    partial: (r) => writeFileSync(join(outDir, 'bench.json'), JSON.stringify(r, null, 2) + '\n'),
  });
  progress?.done();
  const charts: Record<string, string> = {};
  for (const m of result.models) {
    const file = `latency-${m.model.replace(/[^A-Za-z0-9_.-]+/g, '_')}.svg`;
    writeFileSync(join(outDir, file), renderSvg(m, result.settings.budgetMs));
    charts[m.model] = file;
  }
  writeFileSync(join(outDir, 'bench.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(outDir, 'bench.md'), renderMarkdown(result, charts));
  io.out.write(renderTable(result));
  io.out.write(`\nwrote ${join(outDir, 'bench.json')}, bench.md and ${Object.keys(charts).length} chart(s)\n`);
  return 0;
}
