// The service's life around the parts: triggers before it is ready, SIGTERM while triggers keep
// coming, restarts with a pinned version or a version that arrived while it was stopped, and
// model versions per worker thread across many swaps. Two workers, default 100 ms budget.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { App, type StartStage } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import { isLinesightError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { ModelRegistry } from '../../src/models/registry.js';
import type { Verdict } from '../../src/verdict.js';
import { startMosquitto, subscribe } from '../helpers/brokers.js';
import { cli, freePort, samplesDir, tempDir } from '../helpers/env.js';
import { makeVersion } from '../helpers/model-versions.js';

const token = 'lifecycle-test-token-0123456789';

function config(models: string, state: string, station: Record<string, unknown> = {}) {
  return buildConfig(
    {
      line: 'L9',
      stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation', ...station }],
      models: { directory: models, watch: false, autoRollback: { parts: 0 } },
      state: { directory: state },
      mqtt: { embedded: { port: 0 } },
      api: { port: 0, token },
      inference: { workers: 2 },
      summary: { intervalMs: 0 },
    },
    { origin: 'test', baseDir: '/' },
  );
}

const trigger = (url: string, partId: string) =>
  fetch(`${url}/stations/cam1/trigger`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ partId }) });

test('a trigger before the models are loaded gets 503 LS_ERR_NOT_READY and the service starts normally', async (t) => {
  const models = tempDir(t);
  makeVersion(models, '1.0.0');
  const answers: Array<{ stage: StartStage; status: number; code: string }> = [];
  let app: App;
  app = new App(config(models, tempDir(t), { trigger: { type: 'http', toleranceMs: 200 } }), {
    log: silentLogger,
    onStage: async (stage) => {
      if (stage !== 'broker' && stage !== 'models' && stage !== 'publishers') return;
      const r = await trigger(app.apiUrl, `early-${stage}`);
      answers.push({ stage, status: r.status, code: ((await r.json()) as { error: string }).error });
    },
  });
  t.after(() => app.stop());
  await app.start();
  assert.deepEqual(answers.map((a) => [a.stage, a.status, a.code]), [
    ['broker', 503, 'LS_ERR_NOT_READY'],
    ['models', 503, 'LS_ERR_NOT_READY'],
    ['publishers', 503, 'LS_ERR_NOT_READY'],
  ]);
  const verdict = new Promise<Verdict>((resolve) => app.bus.on('verdict', resolve));
  assert.equal((await trigger(app.apiUrl, 'on-time')).status, 202);
  assert.equal((await verdict).partId, 'on-time');
});

test('SIGTERM under 20 triggers/s: every accepted part has exactly one verdict; exit 0 within the drain timeout', async (t) => {
  const broker = await startMosquitto(t);
  const sub = await subscribe(t, broker.url, 'linesight/v1/L9/cam1/verdict');
  const dir = tempDir(t);
  const port = await freePort();
  const drainTimeoutMs = 2000;
  const file = join(dir, 'linesight.yaml');
  writeFileSync(
    file,
    `line: L9
stations:
  - id: cam1
    source: { type: replay, path: ${samplesDir}, ratePerSec: 20 }
    trigger: { type: http, toleranceMs: 100 }
    model: label-orientation
mqtt: { url: "${broker.url}" }
api: { port: ${port}, token: ${token} }
inference: { workers: 2 }
shutdown: { drainTimeoutMs: ${drainTimeoutMs} }
summary: { intervalMs: 0 }
state: { directory: ${join(dir, 'state')} }
log: { level: warn }
`,
  );
  const proc = spawn(process.execPath, [cli, 'run', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  t.after(() => proc.kill('SIGKILL'));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  // Wait for readiness, then trigger at 20/s; SIGTERM after 2 s while the triggers go on.
  for (;;) {
    const r = await fetch(`${url}/readyz`).catch(() => undefined);
    if (r?.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const accepted: string[] = [];
  const refused: number[] = [];
  let done = false;
  let sigtermAt = 0;
  void exited.then(() => (done = true));
  for (let i = 0; !done && i < 400; i++) {
    if (i === 40) {
      sigtermAt = performance.now();
      proc.kill('SIGTERM');
    }
    const id = `part-${i}`;
    const sent = performance.now();
    trigger(url, id).then(
      (r) => (r.status === 202 ? accepted.push(id) : refused.push(r.status)),
      () => refused.push(0), // connection refused once the API has closed
    );
    await new Promise((r) => setTimeout(r, Math.max(0, 50 - (performance.now() - sent))));
  }
  assert.equal(await exited, 0, stderr);
  const tookMs = performance.now() - sigtermAt;
  // Process teardown (threads, broker connection) comes on top of the drain; a hang would be far longer.
  assert.ok(tookMs < drainTimeoutMs + 3000, `exit ${Math.round(tookMs)} ms after SIGTERM`);
  assert.ok(accepted.length >= 40, `accepted ${accepted.length}`);
  assert.ok(refused.every((s) => s === 503 || s === 0), JSON.stringify(refused));
  await sub.next(() => sub.messages.length >= accepted.length, 5000);
  const verdicts = sub.messages.map((m) => JSON.parse(m.payload) as Verdict);
  const byPart = new Map<string, number>();
  for (const v of verdicts) byPart.set(v.partId, (byPart.get(v.partId) ?? 0) + 1);
  assert.deepEqual(accepted.filter((id) => byPart.get(id) !== 1), [], 'every accepted part exactly one verdict');
  assert.equal(verdicts.length, accepted.length, 'no verdict for a part that was not accepted');
});

test('restart: a version added while stopped serves at start; a pinned version wins over the remembered one', async (t) => {
  const models = tempDir(t);
  const state = tempDir(t);
  makeVersion(models, '1.0.0');
  const first = new App(config(models, state), { log: silentLogger });
  await first.start();
  assert.equal(first.stations[0]!.model!.manifest.version, '1.0.0');
  await first.stop();

  makeVersion(models, '1.1.0', (m) => (m.description = 'copied in while the service was stopped'));
  // A broken one arrived too: refused at start, and not in the way.
  makeVersion(models, '1.0.5', (m) => (m.sha256 = '0'.repeat(64)));
  const second = new App(config(models, state), { log: silentLogger });
  const refused: string[] = [];
  second.bus.on('model-refused', (e) => refused.push(e.model));
  const verdict = new Promise<Verdict>((resolve) => second.bus.on('verdict', resolve));
  await second.start();
  assert.equal(second.stations[0]!.model!.manifest.version, '1.1.0');
  assert.equal((await verdict).model!.version, '1.1.0');
  await second.stop();
  assert.deepEqual(refused, []); // 1.1.0 is newer and checked first; 1.0.5 was never needed

  // Known now: a restart stays on 1.1.0 (not news any more), and a pin overrides it.
  const pinned = new App(config(models, state, { model: 'label-orientation@1.0.0' }), { log: silentLogger });
  await pinned.start();
  assert.equal(pinned.stations[0]!.model!.manifest.version, '1.0.0');
  await pinned.stop();
});

test('50 swaps with 2 workers: each thread holds at most the active and the previous version; a refused version is resident nowhere', async (t) => {
  const models = tempDir(t);
  const versions = ['1.0.0', '1.1.0', '1.2.0'];
  for (const v of versions) makeVersion(models, v, (m) => (m.description = `release ${v}`));
  // Golden sample that this version gets wrong: an upright label it must call `fail`.
  const bad = makeVersion(models, '2.0.0', (m) => (m.golden = [{ file: 'golden.jpg', verdict: 'fail' }]));
  copyFileSync(join(samplesDir, '001-copy-centre-upright.jpg'), join(bad, 'golden.jpg'));
  const registry = new ModelRegistry(models);
  const keys = new Map<string, string>();
  for (const v of [...versions, '2.0.0']) keys.set(v, (await registry.resolve(`label-orientation@${v}`)).key);

  const app = new App(config(models, tempDir(t), { model: 'label-orientation@1.0.0' }), { log: silentLogger });
  const verdicts: Verdict[] = [];
  app.bus.on('verdict', (v) => verdicts.push(v));
  t.after(() => app.stop());
  await app.start();
  let active = '1.0.0';
  for (let i = 1; i <= 50; i++) {
    const previous = active;
    active = versions[i % 3]!;
    await app.models.activate('cam1', `label-orientation@${active}`);
    const allowed = new Set([keys.get(active), keys.get(previous)]);
    const threads = app.pool.threadReport();
    assert.equal(threads.length, 2);
    for (const th of threads) {
      assert.ok(th.resident.includes(keys.get(active)!), `swap ${i}: thread ${th.threadId} has not warmed ${active}`);
      assert.deepEqual(th.resident.filter((k) => !allowed.has(k)), [], `swap ${i}: thread ${th.threadId} holds ${th.resident}`);
    }
  }
  await assert.rejects(app.models.activate('cam1', 'label-orientation@2.0.0'), (err: unknown) => isLinesightError(err, 'LS_ERR_MODEL_GOLDEN'));
  for (const th of app.pool.threadReport()) assert.ok(!th.resident.includes(keys.get('2.0.0')!), `thread ${th.threadId} still holds the refused version`);
  await app.stop();
  assert.deepEqual(verdicts.filter((v) => v.verdict === 'error'), []);
});

test('a stop during start-up ends start-up at the next stage, undoes what started, and the service never runs after it stopped', async (t) => {
  const models = tempDir(t);
  makeVersion(models, '1.0.0');
  let app: App;
  let stopped: Promise<void> | undefined;
  const stages: StartStage[] = [];
  app = new App(config(models, tempDir(t)), {
    log: silentLogger,
    onStage: (stage) => {
      stages.push(stage);
      // SIGTERM arrives while the models load (what `linesight run` does on a signal).
      if (stage === 'models') stopped = app.stop();
    },
  });
  const verdicts: Verdict[] = [];
  app.bus.on('verdict', (v) => verdicts.push(v));
  await assert.rejects(app.start(), (e: unknown) => isLinesightError(e, 'LS_ERR_SHUTDOWN'));
  await stopped;
  assert.deepEqual(stages, ['api', 'broker', 'models']);
  assert.equal(app.stations.some((s) => s.model), false, 'no station was given a model');
  // The API and the broker were closed again: nothing listens any more.
  await assert.rejects(fetch(`${app.apiUrl}/healthz`));
  await app.stop(); // idempotent
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(verdicts.length, 0);
});
