// Several cameras on one box: each station has its own source, trigger, model (ONNX and TFLite
// here) and budget, and its verdicts carry its own model and topic.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { App } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import type { Verdict } from '../../src/verdict.js';
import { repo, tempDir, type ExpectedParts } from '../helpers/env.js';
import { subscribe } from '../helpers/brokers.js';

const labels = join(repo, 'samples', 'label-orientation');
const faces = join(repo, 'samples', 'face-presence');
const token = 'stations-test-token-0123456789';

test('two stations, two models (ONNX and TFLite), two triggers, two budgets', async (t) => {
  const config = buildConfig(
    {
      line: 'L4',
      stations: [
        { id: 'labels', source: { type: 'replay', path: labels, ratePerSec: 40, loop: false }, model: 'label-orientation', budgetMs: 100 },
        { id: 'faces', source: { type: 'replay', path: faces, ratePerSec: 20 }, trigger: { type: 'http' }, model: 'face-presence', budgetMs: 150, failSafe: 'accept' },
      ],
      state: { directory: tempDir(t) },
      mqtt: { embedded: { port: 0 } },
      api: { port: 0, token },
      summary: { intervalMs: 0 },
    },
    { origin: 'test', baseDir: '/' },
  );
  let sub!: Awaited<ReturnType<typeof subscribe>>;
  const app: App = new App(config, {
    log: silentLogger,
    // Subscribe once the broker is up and before the cameras start.
    onStage: async (stage) => {
      if (stage === 'publishers') sub = await subscribe(t, app.mqttUrl, 'linesight/v1/L4/+/verdict');
    },
  });
  await app.start();
  t.after(() => app.stop());
  for (let i = 0; i < 5; i++) {
    const r = await fetch(`${app.apiUrl}/stations/faces/trigger`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ partId: `F${i}` }) });
    assert.equal(r.status, 202);
    // Parts at a line's pace (600/min), not a burst of five at once.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const labelCount = readdirSync(labels).filter((f) => f.endsWith('.jpg')).length;
  await sub.next(() => sub.messages.filter((m) => m.topic.endsWith('/faces/verdict')).length >= 5, 30_000);
  await new Promise<void>((resolve) => {
    const done = () => app.stations[0]!.status().source.state === 'ended' && app.stations[0]!.status().inFlight === 0;
    if (done()) return resolve();
    const off = app.bus.on('verdict', () => done() && (off(), resolve()));
  });
  const status = (await (await fetch(`${app.apiUrl}/stations`)).json()) as { stations: Array<{ id: string; mode: string; model: { name: string } }> };
  await app.stop();
  const byTopic = (cam: string) => sub.messages.filter((m) => m.topic === `linesight/v1/L4/${cam}/verdict`).map((m) => JSON.parse(m.payload) as Verdict);
  const faceVerdicts = byTopic('faces');
  assert.deepEqual(faceVerdicts.map((v) => v.partId).sort(), ['F0', 'F1', 'F2', 'F3', 'F4']);
  t.diagnostic(JSON.stringify(faceVerdicts.map((v) => v.timings.totalMs)));
  const faceProblems = faceVerdicts.filter((v) => !(v.model?.name === 'face-presence' && v.budgetMs === 150 && ['no-face', 'face'].includes(v.label!)));
  assert.deepEqual(faceProblems.map((v) => ({ partId: v.partId, verdict: v.verdict, label: v.label, budgetMs: v.budgetMs, timings: v.timings, error: v.error })), []);
  const labelVerdicts = byTopic('labels');
  assert.equal(labelVerdicts.length, labelCount);
  const expected = JSON.parse(readFileSync(join(labels, 'expected.json'), 'utf8')) as ExpectedParts;
  const files = Object.keys(expected.parts).sort();
  for (const v of labelVerdicts) assert.equal(v.verdict, expected.parts[files[v.seq - 1]!]!.verdict);
  assert.ok(labelVerdicts.every((v) => v.model?.name === 'label-orientation' && v.budgetMs === 100));
  assert.deepEqual(status.stations.map((s) => [s.id, s.mode, s.model.name]), [['labels', 'free-run', 'label-orientation'], ['faces', 'http', 'face-presence']]);
});
