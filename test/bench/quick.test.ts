// `linesight bench --quick` as a user runs it (the real CLI, the real service in a child process):
// it completes, and its JSON has every field filled, its Markdown and chart are written.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { BenchResult } from '../../src/bench/result.js';
import { cli, tempDir } from '../helpers/env.js';

/** Paths of every empty field: null (JSON's NaN too), empty strings, empty arrays. */
function emptyFields(value: unknown, path = '$'): string[] {
  if (value === null || value === undefined) return [path];
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [path];
  if (typeof value === 'string') return value.length ? [] : [path];
  if (Array.isArray(value)) return value.length ? value.flatMap((v, i) => emptyFields(v, `${path}[${i}]`)) : [path];
  if (typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => emptyFields(v, `${path}.${k}`));
  return [];
}

test('bench --quick completes and writes JSON with every field filled, Markdown and an SVG chart', async (t) => {
  const out = tempDir(t);
  const proc = spawn(process.execPath, [cli, 'bench', '--quick', '--line-check', '2', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => proc.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
  assert.equal(code, 0, `exit ${code}\n${stdout}\n${stderr}`);

  const result = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as BenchResult;
  assert.deepEqual(emptyFields(result), [], 'every field filled');
  assert.equal(result.settings.quick, true);
  assert.deepEqual(result.settings.frame, { width: 1280, height: 1024, label: '1.3 MP (1280x1024)' });
  assert.equal(result.models.length, 1);
  const m = result.models[0]!;
  assert.equal(m.model, 'label-orientation@1.0.0');
  assert.equal(m.randomWeights, false);
  assert.ok(m.baselines.computeLimitPerSec > 0 && m.baselines.naiveLoopPerSec > 0 && m.baselines.rawRunPerSec > 0);
  // npm ci built native/jpeg here: the service and the compute limit decode with it, the naive loops with sharp alone.
  assert.equal(m.baselines.jpegDecoder, 'libjpeg-turbo');
  assert.ok(m.baselines.sharpPreprocessMsP50 > 0);
  // One naive loop per core at once do at least half what one loop does (a loaded CI box shares its cores).
  assert.ok(m.baselines.parallelNaivePerSec > 0.5 * m.baselines.naiveLoopPerSec, `parallel ${m.baselines.parallelNaivePerSec}/s, one loop ${m.baselines.naiveLoopPerSec}/s`);
  // The bundled model is no torchvision export: both Python loops are skipped, each with its reason.
  assert.deepEqual(m.baselines.python.map((p) => [p.engine, p.status]), [['torch', 'skipped'], ['opencv', 'skipped']]);
  assert.equal(m.configs.length, 1);
  const c = m.configs[0]!;
  assert.equal(c.steps.length, 2);
  for (const s of c.steps) {
    assert.ok(s.parts > 0, `step at ${s.targetPerSec}/s saw verdicts`);
    assert.ok(s.latencyMs.p50 <= s.latencyMs.p99 && s.latencyMs.p99 <= s.latencyMs.max);
    assert.ok(s.rssMiB > 0 && s.cpu > 0, 'CPU and RSS of the service process were read');
  }
  assert.equal(c.saturatedPerSec, Math.max(...c.steps.map((s) => s.achievedPerSec)));
  assert.equal(c.ofParallelNaive, Math.round((c.saturatedPerSec / m.baselines.parallelNaivePerSec) * 100) / 100);
  assert.equal(m.recommendation.workers, c.workers);
  assert.equal(m.recommendation.camerasAtRate, Math.floor(m.recommendation.heldPerMin / 600));
  // The line check: the recommended configuration at one camera's rate (10 parts/s) for 2 s.
  assert.ok(m.lineCheck, 'line check ran');
  assert.equal(m.lineCheck.seconds, 2);
  assert.equal(m.lineCheck.targetPerSec, 10);
  assert.ok(m.lineCheck.parts >= 15, `${m.lineCheck.parts} parts in 2 s at 10/s`);

  const md = readFileSync(join(out, 'bench.md'), 'utf8');
  assert.match(md, /## label-orientation@1\.0\.0/);
  assert.match(md, /\*\*Line check:\*\* the recommended configuration at 600 parts\/min for 2 s: \d+ parts/);
  assert.match(md, /\*\*Recommended:\*\* `inference: \{ workers: \d+, intraOpThreads: \d+, executionProviders: \[cpu\] \}`/);
  const svg = readFileSync(join(out, 'latency-label-orientation_1.0.0.svg'), 'utf8');
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal((svg.match(/<polyline /g) ?? []).length, 1, 'one line per configuration');
  assert.match(stdout, /recommended: inference\.workers \d+/);
  // Not a terminal: the progress is one line per step, not a redrawn bar.
  assert.equal((stderr.match(/^\[[#.]+\] \d+\/\d+ /gm) ?? []).length, 6, stderr);
  assert.ok(existsSync(join(out, 'bench.json')));
});

test('bench refuses a bad option with its code, naming the option and the value', async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const proc = spawn(process.execPath, [cli, 'bench', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      proc.on('exit', (code) => resolve({ code, stderr }));
    });
  const frame = await run(['--frame', '7mp']);
  assert.equal(frame.code, 1);
  assert.match(frame.stderr, /LS_ERR_BENCH_OPTION: invalid bench option --frame: got "7mp", expected one of 1280x1024, 5mp, 12mp or WIDTHxHEIGHT/);
  const budget = await run(['--budget', '0']);
  assert.match(budget.stderr, /LS_ERR_BENCH_OPTION: invalid bench option --budget: got "0"/);
  const model = await run(['--model', 'no-such-model']);
  assert.match(model.stderr, /LS_ERR_BENCH_OPTION: invalid bench option --model: "no-such-model": not a bundled model/);
});
