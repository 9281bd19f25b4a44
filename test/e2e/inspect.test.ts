// Whole-process runs in this process: the bundled model on the bundled parts, verdicts over
// real MQTT (the embedded broker, and Debian's mosquitto), health, readiness and metrics.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { test } from 'node:test';
import { App } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import { createLogger, silentLogger } from '../../src/log.js';
import type { Verdict } from '../../src/verdict.js';
import { samplesDir, tempDir, truncatedJpeg, type ExpectedParts } from '../helpers/env.js';
import { startMosquitto, subscribe } from '../helpers/brokers.js';
import { assertPromtoolClean } from '../helpers/promtool.js';

const expected = JSON.parse(readFileSync(join(samplesDir, 'expected.json'), 'utf8')) as ExpectedParts;
const sampleFiles = readdirSync(samplesDir).filter((f) => f.endsWith('.jpg')).sort();

function config(path: string, extra: Record<string, unknown> = {}) {
  return buildConfig(
    {
      line: 'line-7',
      stations: [{ id: 'cam1', source: { type: 'replay', path, ratePerSec: 50, loop: false }, model: 'label-orientation' }],
      mqtt: { embedded: { port: 0 } },
      api: { port: 0 },
      summary: { intervalMs: 0 },
      ...extra,
    },
    { origin: 'test', baseDir: mkdtempSync(joinPath(tmpdir(), 'linesight-state-')) },
  );
}

const documentedFields = ['id', 'line', 'camera', 'partId', 'seq', 'verdict', 'action', 'label', 'score', 'scores', 'model', 'budgetMs', 'deadlineMet', 'timings', 'capturedAt', 'captureTimeSource', 'decidedAt'];

test('the bundled parts over the embedded broker: one verdict per part, expected verdicts, health, readiness, metrics', async (t) => {
  const readyz: Array<{ stage: string; status: number; body: any }> = [];
  let app!: App;
  const probe = async (stage: string) => {
    if (!app.apiUrl) return;
    const r = await fetch(`${app.apiUrl}/readyz`);
    readyz.push({ stage, status: r.status, body: await r.json() });
    if (stage === 'api') {
      const h = await fetch(`${app.apiUrl}/healthz`);
      assert.equal(h.status, 200);
      assert.equal(((await h.json()) as { status: string }).status, 'ok');
    }
  };
  let sub!: Awaited<ReturnType<typeof subscribe>>;
  app = new App(config(samplesDir), {
    log: silentLogger,
    onStage: async (stage) => {
      // Subscribe as soon as the broker is up, before the first part is inspected.
      if (stage === 'publishers') sub = await subscribe(t, app.mqttUrl, 'linesight/v1/#');
      await probe(stage);
    },
  });
  await app.start();
  t.after(() => app.stop());

  const verdictMsgs = () => sub.messages.filter((m) => m.topic === 'linesight/v1/line-7/cam1/verdict');
  await sub.next(() => verdictMsgs().length >= sampleFiles.length, 30_000);
  const status = await sub.next((m) => m.topic === 'linesight/v1/line-7/cam1/status');
  assert.equal(status.payload, 'online');

  // Readiness: not ready while the model loads, ready once the station serves.
  assert.equal(readyz.find((r) => r.stage === 'api')!.status, 503);
  assert.match(JSON.stringify(readyz.find((r) => r.stage === 'api')!.body), /loading model label-orientation/);
  assert.equal(readyz.find((r) => r.stage === 'models')!.status, 503);
  assert.equal(readyz.find((r) => r.stage === 'running')!.status, 200);

  const metrics = await (await fetch(`${app.apiUrl}/metrics`)).text();
  // The API documents itself from its route schemas.
  const openapi = (await (await fetch(`${app.apiUrl}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
  assert.match(openapi.openapi, /^3\./);
  for (const path of ['/healthz', '/readyz', '/metrics', '/stations', '/stations/{id}/trigger', '/models', '/stations/{id}/model', '/stations/{id}/model/rollback', '/events', '/stations/{id}/image']) {
    assert.ok(path in openapi.paths, `openapi.json lacks ${path}`);
  }
  await app.stop();

  const verdicts = verdictMsgs().map((m) => JSON.parse(m.payload) as Verdict);
  assert.equal(verdicts.length, sampleFiles.length, 'exactly one verdict per replayed part');
  assert.deepEqual(verdicts.map((v) => v.seq).sort((a, b) => a - b), sampleFiles.map((_, i) => i + 1));
  assert.equal(new Set(verdicts.map((v) => v.id)).size, verdicts.length, 'message ids are unique');
  for (const v of verdicts) {
    for (const f of documentedFields) assert.ok(f in v, `payload lacks ${f}`);
    for (const f of ['queueMs', 'preprocessMs', 'inferenceMs', 'totalMs']) assert.equal(typeof (v.timings as any)[f], 'number', f);
    const file = sampleFiles[v.seq - 1]!;
    assert.equal(v.verdict, expected.parts[file]!.verdict, file);
    assert.equal(v.action, v.verdict === 'pass' ? 'accept' : 'reject');
    assert.deepEqual(v.model, { name: 'label-orientation', version: '1.0.0' });
    assert.equal(v.deadlineMet, true);
    assert.equal(v.line, 'line-7');
  }
  const counts = (k: string) => verdicts.filter((v) => v.verdict === k).length;
  assert.ok(counts('pass') > 0 && counts('fail') > 0);

  // Metrics: parts by verdict, a latency histogram, and a valid exposition (promtool).
  const want = (k: string) => counts(k);
  assert.match(metrics, new RegExp(`linesight_parts_total\\{line="line-7",camera="cam1",verdict="pass",action="accept"\\} ${want('pass')}`));
  assert.match(metrics, new RegExp(`linesight_parts_total\\{line="line-7",camera="cam1",verdict="fail",action="reject"\\} ${want('fail')}`));
  assert.match(metrics, new RegExp(`linesight_part_latency_seconds_count\\{line="line-7",camera="cam1"\\} ${verdicts.length}`));
  assert.match(metrics, /linesight_part_latency_seconds_bucket\{le="0.1",line="line-7",camera="cam1"\} \d+/);
  assert.match(metrics, /linesight_model_info\{camera="cam1",model="label-orientation",version="1.0.0",provider="cpu"\} 1/);
  // promtool parses the exposition and lints every name, prom-client's defaults included: no
  // allow-list, so a default metric that breaks the naming rules fails here.
  assertPromtoolClean(metrics);
});

test('a corrupt JPEG gives an error verdict and later parts are still inspected', async (t) => {
  const dir = tempDir(t);
  copyFileSync(join(samplesDir, '001-copy-centre-upright.jpg'), join(dir, 'a.jpg'));
  copyFileSync(truncatedJpeg, join(dir, 'b.jpg'));
  copyFileSync(join(samplesDir, '002-copy-centre-rot180.jpg'), join(dir, 'c.jpg'));
  writeFileSync(join(dir, 'd.jpg'), 'not a jpeg');
  copyFileSync(join(samplesDir, '003-notice-upright.jpg'), join(dir, 'e.jpg'));
  const verdicts: Verdict[] = [];
  const app = new App(config(dir), { log: silentLogger });
  app.bus.on('verdict', (v) => verdicts.push(v));
  await app.start();
  t.after(() => app.stop());
  while (verdicts.length < 5) await new Promise<void>((r) => app.bus.on('verdict', () => r()));
  await app.stop();
  assert.deepEqual(verdicts.sort((a, b) => a.seq - b.seq).map((v) => v.verdict), ['pass', 'error', 'fail', 'error', 'pass']);
  const err = verdicts.find((v) => v.seq === 2)!;
  assert.equal(err.error?.code, 'LS_ERR_IMAGE_DECODE');
  assert.equal(err.action, 'reject');
  assert.equal(err.label, null);
});

test('verdicts reach an external broker (mosquitto) with a retained status and an offline will', async (t) => {
  const broker = await startMosquitto(t);
  const sub = await subscribe(t, broker.url, 'linesight/v1/#');
  const app = new App(config(samplesDir, { mqtt: { url: broker.url } }), { log: process.env.DEBUG_TEST ? createLogger({ level: "debug" }) : silentLogger });
  await app.start();
  t.after(() => app.stop());
  await sub.next(() => sub.messages.filter((m) => m.topic.endsWith('/verdict')).length >= sampleFiles.length, 30_000);
  await app.stop();
  const verdicts = sub.messages.filter((m) => m.topic === 'linesight/v1/line-7/cam1/verdict');
  assert.equal(verdicts.length, sampleFiles.length);
  // A late subscriber sees the retained status: offline after a clean stop.
  const late = await subscribe(t, broker.url, 'linesight/v1/line-7/cam1/status');
  const status = await late.next(() => true);
  assert.equal(status.payload, 'offline');
  assert.equal(status.retain, true);
});
