// Triggered stations: every trigger (MQTT or HTTP) yields exactly one verdict with its part id,
// also when triggers come faster than the camera's frames; no frame in time is an `error`.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { App } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import type { Verdict } from '../../src/verdict.js';
import { samplesDir } from '../helpers/env.js';

const token = 'test-token-0123456789abcdef';

function triggeredApp(trigger: Record<string, unknown>, source: Record<string, unknown> = { ratePerSec: 5 }, budgetMs = 3000) {
  const config = buildConfig(
    {
      line: 'L2',
      stations: [
        { id: 'cam1', source: { type: 'replay', path: samplesDir, ...source }, trigger, model: 'label-orientation', budgetMs },
        { id: 'free', source: { type: 'replay', path: samplesDir, ratePerSec: 1 }, model: 'label-orientation' },
      ],
      mqtt: { embedded: { port: 0 } },
      api: { port: 0, token },
      summary: { intervalMs: 0 },
    },
    { origin: 'test', baseDir: mkdtempSync(joinPath(tmpdir(), 'linesight-state-')) },
  );
  const app = new App(config, { log: silentLogger });
  const verdicts: Verdict[] = [];
  app.bus.on('verdict', (v) => {
    if (v.camera === 'cam1') verdicts.push(v);
  });
  const until = (n: number) =>
    new Promise<void>((resolve) => {
      if (verdicts.length >= n) return resolve();
      const off = app.bus.on('verdict', () => {
        if (verdicts.length >= n) {
          off();
          resolve();
        }
      });
    });
  return { app, verdicts, until };
}

test('N MQTT triggers, faster than the frame rate, give exactly N verdicts with their part ids', async (t) => {
  const { app, verdicts, until } = triggeredApp({ type: 'mqtt' });
  await app.start();
  t.after(() => app.stop());
  const client = await mqtt.connectAsync(app.mqttUrl);
  t.after(() => client.endAsync());
  const topic = 'linesight/v1/L2/cam1/trigger';
  const ids = Array.from({ length: 20 }, (_, i) => `SN-${1000 + i}`);
  // 20 triggers in a burst, while the camera gives 5 frames/s: parts share frames.
  await Promise.all(ids.slice(0, 18).map((id) => client.publishAsync(topic, id, { qos: 1 })));
  await client.publishAsync(topic, JSON.stringify({ partId: ids[18] }), { qos: 1 });
  await client.publishAsync(topic, JSON.stringify({ partId: ids[19] }), { qos: 1 });
  await client.publishAsync(topic, '', { qos: 1 }); // a part without an id still gets a verdict
  await client.publishAsync(topic, 'has spaces in it', { qos: 1 }); // unusable id: inspected without one
  await until(22);
  const metrics = await (await fetch(`${app.apiUrl}/metrics`)).text();
  assert.match(metrics, /linesight_trigger_parts\{camera="cam1",kind="mqtt"\} 22/);
  assert.match(metrics, /linesight_trigger_up\{camera="cam1",kind="mqtt"\} 1/);
  await app.stop();
  assert.equal(verdicts.length, 22);
  const got = verdicts.map((v) => v.partId);
  for (const id of ids) assert.equal(got.filter((g) => g === id).length, 1, `${id} exactly once`);
  assert.equal(new Set(verdicts.map((v) => v.seq)).size, 22);
  assert.ok(verdicts.every((v) => v.verdict === 'pass' || v.verdict === 'fail' || v.verdict === 'uncertain'), JSON.stringify(verdicts.map((v) => v.verdict)));
  assert.ok(verdicts.every((v) => typeof v.triggeredAt === 'string' && v.capturedAt !== null));
  // Fewer frames than parts: frames were shared.
  assert.ok(new Set(verdicts.map((v) => v.capturedAt)).size < 22);
});

test('HTTP triggers: 202 with the part id, one verdict each; bad requests are refused with a reason', async (t) => {
  const { app, verdicts, until } = triggeredApp({ type: 'http' });
  await app.start();
  t.after(() => app.stop());
  const post = (path: string, body: unknown, auth = `Bearer ${token}`) =>
    fetch(`${app.apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify(body) });
  const responses = await Promise.all(Array.from({ length: 15 }, (_, i) => post('/stations/cam1/trigger', { partId: `H${i}` })));
  for (const [i, r] of responses.entries()) {
    assert.equal(r.status, 202);
    assert.equal(((await r.json()) as { partId: string }).partId, `H${i}`);
  }
  const anon = await post('/stations/cam1/trigger', null);
  assert.equal(anon.status, 202);

  const noAuth = await post('/stations/cam1/trigger', {}, '');
  assert.equal(noAuth.status, 401);
  assert.equal(((await noAuth.json()) as { error: string }).error, 'LS_ERR_UNAUTHORIZED');
  assert.equal((await post('/stations/cam1/trigger', {}, 'Bearer nope')).status, 401);
  const missing = await post('/stations/cam9/trigger', {});
  assert.equal(missing.status, 404);
  assert.match(((await missing.json()) as { message: string }).message, /no station cam9/);
  const badId = await post('/stations/cam1/trigger', { partId: 'two words' });
  assert.equal(badId.status, 400);
  assert.match(((await badId.json()) as { message: string }).message, /partId must be/);
  const extra = await post('/stations/cam1/trigger', { partId: 'x', colour: 'red' });
  assert.equal(extra.status, 400);
  const freeRun = await post('/stations/free/trigger', {});
  assert.equal(freeRun.status, 400);
  assert.match(((await freeRun.json()) as { message: string }).message, /free-running/);

  await until(16);
  await app.stop();
  assert.equal(verdicts.length, 16);
  for (let i = 0; i < 15; i++) assert.equal(verdicts.filter((v) => v.partId === `H${i}`).length, 1);
});

test('a trigger with no frame by its deadline gets an error verdict (no frame), never silence', async (t) => {
  // The camera gives one frame at start, then none for minutes.
  const { app, verdicts, until } = triggeredApp({ type: 'http', toleranceMs: 0 }, { ratePerSec: 0.001 }, 300);
  await app.start();
  t.after(() => app.stop());
  await new Promise((r) => setTimeout(r, 50)); // let the one frame pass, so it is older than the trigger
  const r = await fetch(`${app.apiUrl}/stations/cam1/trigger`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"partId":"LONELY-1"}' });
  assert.equal(r.status, 202);
  await until(1);
  const v = verdicts[0]!;
  assert.equal(v.partId, 'LONELY-1');
  assert.equal(v.verdict, 'error');
  assert.equal(v.action, 'reject');
  assert.equal(v.error?.code, 'LS_ERR_NO_FRAME');
  assert.equal(v.capturedAt, null);
});
