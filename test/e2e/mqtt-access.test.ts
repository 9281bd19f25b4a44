// The whole service with embedded-broker users: a reader's forged trigger inspects nothing and
// its forged verdict reaches no one; the trigger user's trigger gives a verdict with its part id;
// Linesight's own clients publish as the service identity; /metrics counts the refusals.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { App } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { hashPassword } from '../../src/publish/password-hash.js';
import type { Verdict } from '../../src/verdict.js';
import { samplesDir, tempDir } from '../helpers/env.js';
import { subscribe } from '../helpers/brokers.js';

test('embedded broker with users: forged triggers and verdicts are refused, the trigger user\'s part is inspected', async (t) => {
  const users = [
    { username: 'scada', password: await hashPassword('scada-pw', { N: 1024 }), role: 'reader' },
    { username: 'plc', password: await hashPassword('plc-pw', { N: 1024 }), role: 'trigger', cameras: ['cam1'] },
  ];
  const config = buildConfig(
    {
      line: 'L9',
      stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 20 }, trigger: { type: 'mqtt' }, model: 'label-orientation' }],
      mqtt: { embedded: { port: 0, users } },
      inference: { workers: 2 },
      state: { directory: tempDir(t) },
      api: { port: 0 },
      summary: { intervalMs: 0 },
    },
    { origin: 'test', baseDir: '/' },
  );
  const app = new App(config, { log: silentLogger });
  const verdicts: Verdict[] = [];
  app.bus.on('verdict', (v) => verdicts.push(v));
  await app.start();
  t.after(() => app.stop());

  const topic = 'linesight/v1/L9/cam1/trigger';
  await assert.rejects(mqtt.connectAsync(app.mqttUrl, { reconnectPeriod: 0 }), (err: { code?: number }) => err.code === 5);
  const watcher = await subscribe(t, app.mqttUrl, 'linesight/v1/L9/cam1/verdict', { connect: { username: 'scada', password: 'scada-pw' } });
  const scada = await mqtt.connectAsync(app.mqttUrl, { username: 'scada', password: 'scada-pw', reconnectPeriod: 0 });
  t.after(() => scada.endAsync(true));
  await scada.publishAsync(topic, 'FORGED-1', { qos: 1 });
  await scada.publishAsync('linesight/v1/L9/cam1/verdict', JSON.stringify({ partId: 'FORGED-2', verdict: 'pass' }), { qos: 1 });
  const plc = await mqtt.connectAsync(app.mqttUrl, { username: 'plc', password: 'plc-pw', reconnectPeriod: 0 });
  t.after(() => plc.endAsync(true));
  await plc.publishAsync(topic, 'SN-1', { qos: 1 });

  const m = await watcher.next((x) => x.payload.includes('"SN-1"'), 20_000);
  assert.equal((JSON.parse(m.payload) as Verdict).partId, 'SN-1');
  // The one part inspected is the trigger user's; nothing forged reached the subscriber.
  assert.deepEqual(verdicts.map((v) => v.partId), ['SN-1']);
  assert.deepEqual(watcher.messages.map((x) => (JSON.parse(x.payload) as Verdict).partId), ['SN-1']);
  const metrics = await (await fetch(`${app.apiUrl}/metrics`)).text();
  assert.match(metrics, /linesight_broker_refused\{reason="connect"\} 1/);
  assert.match(metrics, /linesight_broker_refused\{reason="publish"\} 2/);
  assert.match(metrics, /linesight_queue_capacity\{queue="mqtt-offline:cam1"\} 9000/);
  assert.match(metrics, /linesight_queue_capacity\{queue="broker-session"\} 10000/);
});
