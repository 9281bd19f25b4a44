// The promtool check the e2e test runs on a live /metrics must be able to fail: the naming lint
// that prom-client's *_total gauges broke is still enforced.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { EventBus } from '../../src/events.js';
import { createMetrics } from '../../src/api/metrics.js';
import { promtoolProblems } from '../helpers/promtool.js';
import { silentLogger } from '../../src/log.js';

test('promtool rejects a gauge with a counter suffix, and prom-client defaults still carry them', async () => {
  const registry = new Registry();
  new Gauge({ name: 'x_active_total', help: 'A gauge named like a counter.', registers: [registry] });
  assert.match(promtoolProblems(await registry.metrics()).join('\n'), /x_active_total non-counter metrics should not have "_total" suffix/);
  const defaults = new Registry();
  collectDefaultMetrics({ register: defaults });
  assert.notDeepEqual(promtoolProblems(await defaults.metrics()), [], 'prom-client defaults are clean now: the removal in metrics.ts may go');
});

test('Linesight registry: per-type active handle gauges kept, their *_total sums dropped', async () => {
  const registry = createMetrics(new EventBus(silentLogger), {
    pool: () => ({ workers: 2, running: 0, queued: 0, crashed: 0, hung: 0, refused: 0, shed: 0 }),
    threads: () => [], estimates: () => [], triggers: () => [], publishers: () => [], models: () => [], cameras: () => [],
  });
  const text = await registry.metrics();
  assert.match(text, /^# TYPE linesight_process_nodejs_active_handles gauge$/m);
  assert.doesNotMatch(text, /nodejs_active_\w+_total/);
});
