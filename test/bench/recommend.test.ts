// The recommendation on recorded results (test/bench/fixtures/recorded-configs.json: one model's
// sweep from a real run on a 2-core box), and on edited copies of it for the cases a box may
// give: a near-tie, nothing held, a configuration whose higher step failed but a lower one held.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { heldPerMin, lineRateP999, recommend } from '../../src/bench/recommend.js';
import type { ConfigResult } from '../../src/bench/result.js';
import { summarize } from '../../src/bench/stats.js';
import { parseBenchArgs, parseFrame } from '../../src/cli-bench.js';
import { repo } from '../helpers/env.js';

const recorded = (): ConfigResult[] => JSON.parse(readFileSync(join(repo, 'test', 'bench', 'fixtures', 'recorded-configs.json'), 'utf8')) as ConfigResult[];

test('held rate is the highest step that held, not the last one', () => {
  for (const c of recorded()) {
    const held = c.steps.filter((s) => s.held).map((s) => Math.round(s.targetPerSec * 60));
    assert.equal(heldPerMin(c.steps), held.length ? Math.max(...held) : 0);
    assert.equal(c.heldPerMin, heldPerMin(c.steps), 'the recorded figure is what the function computes');
  }
  const steps = recorded()[0]!.steps.map((s, i) => ({ ...s, held: i === 0 }));
  assert.equal(heldPerMin(steps), Math.round(steps[0]!.targetPerSec * 60));
  assert.equal(heldPerMin(steps.map((s) => ({ ...s, held: false }))), 0);
});

test('on recorded results: the configuration that held most, with cameras carried at the line rate', () => {
  const configs = recorded();
  const best = Math.max(...configs.map((c) => c.heldPerMin));
  assert.ok(best > 0, 'the fixture has a configuration that held');
  const rec = recommend(configs, 600, 100);
  const chosen = configs.find((c) => c.workers === rec.workers && c.intraOpThreads === rec.intraOpThreads && c.provider === rec.provider)!;
  assert.ok(chosen.heldPerMin >= best * 0.95);
  assert.equal(rec.heldPerMin, chosen.heldPerMin);
  assert.equal(rec.camerasAtRate, Math.floor(chosen.heldPerMin / 600));
  assert.equal(rec.saturatedPerSec, chosen.saturatedPerSec);
  assert.equal(recommend(configs, 1, 100).camerasAtRate, chosen.heldPerMin);
});

test('a near-tie (within 5 %) goes to fewer threads; a clear win does not', () => {
  const [a, b] = recorded();
  // Rows of a sweep as data for the pure recommendation rule (nothing runs here): a 1-worker
  // configuration is one of the candidates the bench measures on a real line. Both with the same
  // steps, so the same headroom at the line rate (the next test varies that).
  const few = { ...a!, workers: 1, intraOpThreads: 1, heldPerMin: 970, rssPeakMiB: 200 };
  const many = { ...b!, steps: a!.steps, workers: 2, intraOpThreads: 2, heldPerMin: 1000, rssPeakMiB: 190 };
  assert.deepEqual([recommend([many, few], 600, 100).workers, recommend([many, few], 600, 100).intraOpThreads], [1, 1]);
  const clear = { ...many, heldPerMin: 1100 };
  assert.equal(recommend([few, clear], 600, 100).workers, 2);
  assert.match(recommend([few, clear], 600, 100).reason, /holds the highest rate/);
  // Same threads: less memory wins.
  const lean = { ...many, workers: 1, intraOpThreads: 2, heldPerMin: 990, rssPeakMiB: 150 };
  assert.equal(recommend([many, lean], 600, 100).workers, 1);
});

test('a near-tie goes to the configuration with clearly more headroom at the line rate before fewer threads', () => {
  const [a, b] = recorded();
  // Data rows for the pure rule (nothing runs here): ResNet-50 on 2 cores held the same rate with
  // 1 worker x 2 threads and 2 x 2, at 10 parts/s with p99.9 94 against 65 ms.
  const atLine = (c: ConfigResult, p999: number): ConfigResult => ({
    ...c,
    heldPerMin: 666,
    steps: [{ ...c.steps[0]!, targetPerSec: 10, held: true, latencyMs: { ...c.steps[0]!.latencyMs, p999 } }, ...c.steps.slice(1).map((s) => ({ ...s, held: false }))],
  });
  const single = { ...atLine(a!, 94), workers: 1, intraOpThreads: 2 };
  const double = { ...atLine(b!, 65), workers: 2, intraOpThreads: 2 };
  assert.equal(lineRateP999(single.steps, 10), 94);
  const rec = recommend([single, double], 600, 100);
  assert.deepEqual([rec.workers, rec.intraOpThreads], [2, 2]);
  assert.match(rec.reason, /most latency headroom at 600 parts\/min \(p99\.9 65 ms\)/);
  // Within a fifth of the budget of each other (94 against 80 ms): fewer threads, as before.
  assert.equal(recommend([single, { ...double, ...atLine(b!, 80), workers: 2, intraOpThreads: 2 }], 600, 100).workers, 1);
  // The same gap is not "clearly more" under a 500 ms budget.
  assert.equal(recommend([single, double], 600, 500).workers, 1);
  // A configuration not measured at the line rate is not ruled out by it.
  assert.equal(lineRateP999(single.steps, 30), undefined);
  assert.equal(recommend([single, double], 1800, 100).workers, 1);
});

test('nothing held: the most capacity is recommended, with 0 cameras and the reason said', () => {
  const none = recorded().map((c) => ({ ...c, heldPerMin: 0, steps: c.steps.map((s) => ({ ...s, held: false })) }));
  const top = [...none].sort((x, y) => y.saturatedPerSec - x.saturatedPerSec)[0]!;
  const rec = recommend(none, 600, 100);
  assert.equal(rec.camerasAtRate, 0);
  assert.equal(rec.saturatedPerSec, top.saturatedPerSec);
  assert.match(rec.reason, /no configuration held/);
  assert.throws(() => recommend([], 600, 100), RangeError);
});

test('percentiles are nearest-rank; p99.9 of fewer than 1000 parts is the maximum', () => {
  const xs = Array.from({ length: 200 }, (_, i) => i + 1);
  assert.deepEqual(summarize(xs), { count: 200, p50: 100, p95: 190, p99: 198, p999: 200, max: 200 });
  assert.equal(summarize(Array.from({ length: 2000 }, (_, i) => i + 1)).p999, 1998);
  assert.deepEqual(summarize([]), { count: 0, p50: 0, p95: 0, p99: 0, p999: 0, max: 0 });
});

test('options: frame sizes by name or WxH; numbers checked at the edge', () => {
  assert.deepEqual(parseFrame('5mp'), { width: 2592, height: 1944, label: '5 MP (2592x1944)' });
  assert.equal(parseFrame('640x480').width, 640);
  assert.throws(() => parseFrame('10x10'), { code: 'LS_ERR_BENCH_OPTION' });
  assert.throws(() => parseFrame('9000x9000'), { code: 'LS_ERR_BENCH_OPTION' });
  const quick = parseBenchArgs(['--quick']);
  assert.equal(quick.options.models, 'label-orientation');
  assert.equal(parseBenchArgs([]).options.models, 'bundled');
  assert.equal(parseBenchArgs(['--seconds', '3']).options.stepSeconds, 3);
  // The line check runs for a minute after a full sweep, not after a quick one unless asked.
  assert.equal(parseBenchArgs([]).options.lineCheckSeconds, 60);
  assert.equal(quick.options.lineCheckSeconds, 0);
  assert.equal(parseBenchArgs(['--quick', '--line-check', '5']).options.lineCheckSeconds, 5);
  assert.throws(() => parseBenchArgs(['--line-check=-1']), { code: 'LS_ERR_BENCH_OPTION' });
  assert.throws(() => parseBenchArgs(['--camera-rate', 'fast']), { code: 'LS_ERR_BENCH_OPTION' });
});
