// The real pool (piscina + onnxruntime-node) under scheduling pressure: earliest deadline
// first, shedding of free-run frames, parts that cannot make their deadline, dead workers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { isLinesightError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { ModelRef } from '../../src/inference/messages.js';
import { InferencePool, type InferJob } from '../../src/inference/pool.js';
import { ModelRegistry } from '../../src/inference/registry.js';
import { modelsDir, samplesDir } from '../helpers/env.js';

let pool: InferencePool;
let model: ModelRef;
const jpeg = readFileSync(join(samplesDir, '001-copy-centre-upright.jpg'));

before(async () => {
  pool = new InferencePool({ workers: 1, intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all', clock: systemClock, log: silentLogger });
  pool.start();
  const v = await new ModelRegistry(modelsDir).resolve('label-orientation');
  model = { key: v.key, bytes: v.bytes, manifest: v.manifest };
  await pool.warmUp(model);
});
after(() => pool.close());

const job = (deadlineIn: number, extra: Partial<InferJob> = {}): InferJob => ({
  station: 's1',
  model,
  image: { kind: 'encoded', data: new Uint8Array(jpeg) },
  deadline: systemClock.now() + deadlineIn,
  ...extra,
});

test('waiting parts run earliest deadline first', async () => {
  const order: number[] = [];
  const first = pool.infer(job(60_000)); // occupies the only worker
  const rest = [30_000, 10_000, 20_000].map((d) => pool.infer(job(d)).then(() => order.push(d)));
  assert.equal(pool.stats.queued, 3);
  await Promise.all([first, ...rest]);
  assert.deepEqual(order, [10_000, 20_000, 30_000]);
});

test('free-run frames beyond the station queue bound shed the oldest; others are kept', async () => {
  const running = pool.infer(job(60_000));
  const outcomes = await Promise.allSettled([1, 2, 3, 4].map(() => pool.infer(job(60_000, { shedBeyond: 2 }))));
  await running;
  assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected', 'fulfilled', 'fulfilled']);
  for (const o of outcomes.slice(0, 2)) assert.ok(o.status === 'rejected' && isLinesightError(o.reason, 'LS_ERR_SHED'));
  // A triggered part (no shedBeyond) is never shed, however deep the queue.
  const blocker = pool.infer(job(60_000));
  const triggered = await Promise.allSettled([1, 2, 3, 4, 5].map(() => pool.infer(job(60_000))));
  await blocker;
  assert.ok(triggered.every((o) => o.status === 'fulfilled'));
});

test('a part that cannot make its deadline is answered at once, without using a worker', async () => {
  const before = pool.stats.completed;
  const blocker = pool.infer(job(60_000));
  const doomed = pool.infer(job(-1));
  await assert.rejects(doomed, (err: unknown) => isLinesightError(err, 'LS_ERR_DEADLINE_EXPIRED'));
  await blocker;
  assert.equal(pool.stats.completed, before + 1);
});

test('an aborted part leaves the queue', async () => {
  const blocker = pool.infer(job(60_000));
  const ac = new AbortController();
  const aborted = pool.infer(job(60_000, { signal: ac.signal }));
  assert.equal(pool.stats.queued, 1);
  ac.abort(new Error('part cancelled'));
  await assert.rejects(aborted, /part cancelled/);
  assert.equal(pool.stats.queued, 0);
  await blocker;
});

test('a worker killed mid-inference gives its part an error; the pool recovers', async () => {
  const victim = pool.infer(job(60_000));
  // The task was posted to the only thread; kill that thread under it.
  await pool.threads[0]!.terminate();
  const r = await victim;
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.error.code === 'LS_ERR_WORKER_CRASHED', JSON.stringify(r));
  assert.equal(pool.stats.crashed, 1);
  // Piscina replaces the thread; the next part loads the model there and passes.
  const next = await pool.infer(job(60_000));
  assert.ok(next.ok, JSON.stringify(next));
});
