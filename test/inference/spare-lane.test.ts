// The pool's spare-capacity lane (shadow trials) on the real pool, two workers: spare work runs
// only after the parts, never on the last idle thread, is given up when parts wait, and is
// dropped by age and by bound. The queue itself is tested alone below.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { isLinesightError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { ModelRef } from '../../src/inference/messages.js';
import { InferencePool, type InferJob, type SpareJob } from '../../src/inference/pool.js';
import { SpareQueue, type SpareEntry } from '../../src/inference/spare-queue.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { modelsDir, samplesDir } from '../helpers/env.js';

const jpeg = readFileSync(join(samplesDir, '001-copy-centre-upright.jpg'));

async function warmPool(t: { after: (fn: () => Promise<void>) => void }, options: { spareCooldownMs?: number; spareQueue?: number } = {}) {
  const pool = new InferencePool({ workers: 2, intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all', clock: systemClock, log: silentLogger, ...options });
  pool.start();
  t.after(() => pool.close());
  const v = await new ModelRegistry(modelsDir).resolve('label-orientation');
  const model: ModelRef = { key: v.key, bytes: v.bytes, manifest: v.manifest };
  await pool.warmUp(model);
  const part = (extra: Partial<InferJob> = {}): InferJob => ({ station: 's1', model, image: { kind: 'encoded', data: new Uint8Array(jpeg) }, deadline: systemClock.now() + 60_000, ...extra });
  const spare = (extra: Partial<SpareJob> = {}): SpareJob => ({ station: 's1', model, image: { kind: 'encoded', data: new Uint8Array(jpeg) }, expiresAt: systemClock.now() + 60_000, budgetMs: 100, ...extra });
  return { pool, part, spare };
}

const dropReason = (err: unknown) => (isLinesightError(err, 'LS_ERR_SHADOW_DROPPED') ? /\((\w+)\)/.exec(err.message)![1] : String(err));

test('spare work never takes the last idle thread: with two workers at most one runs it, and a part arriving finds a thread', async (t) => {
  const { pool, part, spare } = await warmPool(t);
  const runs = [spare(), spare(), spare()].map((j) => pool.inferOnSpare(j));
  assert.equal(pool.stats.spare.running, 1, 'one thread runs spare work, the other stays free');
  assert.equal(pool.stats.spare.queued, 2);
  const p = pool.infer(part());
  assert.equal(pool.stats.running, 1, 'the part went straight to the free thread');
  assert.equal(pool.stats.queued, 0);
  const r = await p;
  assert.ok(r.ok);
  for (const x of await Promise.all(runs)) assert.ok(x.ok);
  assert.equal(pool.stats.spare.completed, 3);
});

test('when parts wait for a thread, waiting spare work is dropped (load), and none starts for the cool-down', async (t) => {
  const { pool, part, spare } = await warmPool(t, { spareCooldownMs: 60_000 });
  // Both threads busy and a part waiting: capacity is gone.
  const parts = [part(), part(), part()].map((j) => pool.infer(j));
  const waiting = pool.inferOnSpare(spare());
  assert.equal(dropReason(await waiting.catch((e: unknown) => e)), 'load');
  await Promise.all(parts);
  await pool.idle();
  // Idle again, but within the cool-down after parts waited: still no spare work.
  assert.equal(dropReason(await pool.inferOnSpare(spare()).catch((e: unknown) => e)), 'load');
  assert.equal(pool.stats.spare.dropped.load, 2);
  assert.equal(pool.stats.spare.completed, 0);
});

test('spare work past its expiry is dropped unrun (stale); beyond the bound the oldest goes (full)', async (t) => {
  const { pool, part, spare } = await warmPool(t, { spareQueue: 2 });
  // One thread busy with a part: the other is the reserve, so spare work waits.
  const running = pool.infer(part());
  const stale = pool.inferOnSpare(spare({ expiresAt: systemClock.now() + 1 }));
  const a = pool.inferOnSpare(spare());
  const b = pool.inferOnSpare(spare());
  assert.equal(dropReason(await stale.catch((e: unknown) => e)), 'full', 'the third entry pushed the oldest out');
  await running;
  assert.ok((await a).ok && (await b).ok);

  const busy = pool.infer(part());
  // Caught at once: it is dropped while the test awaits the part, not when it is looked at.
  const old = pool.inferOnSpare(spare({ expiresAt: systemClock.now() + 1 })).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 5));
  await busy;
  assert.equal(dropReason(await old), 'stale');
  assert.deepEqual(pool.stats.spare.dropped, { load: 0, stale: 1, full: 1, closed: 0 });
});

test('SpareQueue: bound, expiry and clearing, each counted by reason', () => {
  const q = new SpareQueue<string>(2);
  assert.deepEqual(q.push({ value: 'a', expiresAt: 10 }), []);
  q.push({ value: 'b', expiresAt: 30 });
  assert.deepEqual(q.push({ value: 'c', expiresAt: 30 }).map((e) => e.value), ['a']);
  const stale: Array<SpareEntry<string>> = [];
  assert.equal(q.take(20, stale)?.value, 'b');
  assert.equal(stale.length, 0);
  q.push({ value: 'd', expiresAt: 15 });
  assert.equal(q.take(20, stale)?.value, 'c');
  assert.equal(q.take(20, stale), undefined);
  assert.deepEqual(stale.map((e) => e.value), ['d']);
  q.push({ value: 'e', expiresAt: 99 });
  assert.deepEqual(q.clear('load').map((e) => e.value), ['e']);
  assert.deepEqual(q.dropped, { load: 1, stale: 1, full: 1, closed: 0 });
});
