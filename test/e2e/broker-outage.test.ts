// The local broker goes down while parts are being inspected and comes back: every verdict
// still arrives (QoS 1, queued and resent by the publisher), none is lost; the outage and the
// recovery of the local MQTT connection and of an MQTT trigger input are health events, which
// reach the cloud outbox.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import type { LinesightEvents } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { CloudFeed } from '../../src/publish/cloud-feed.js';
import { MemoryOutbox } from '../../src/publish/outbox-memory.js';
import type { Verdict } from '../../src/verdict.js';
import { samplesDir, tempDir, until } from '../helpers/env.js';
import { startMosquitto, subscribe } from '../helpers/brokers.js';
import { checkedPayload } from '../helpers/cloud-payloads.js';

test('a broker outage loses no verdict', async (t) => {
  const broker = await startMosquitto(t, { persistent: true });
  // A PLC gateway with a persistent session: the broker keeps its messages across the restart.
  const plc = await subscribe(t, broker.url, 'linesight/v1/L6/cam1/verdict', { clientId: 'plc-gateway' });
  const config = buildConfig(
    {
      line: 'L6',
      stations: [
        { id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 20, loop: true }, model: 'label-orientation' },
        // Waits for MQTT triggers (none come): here for its trigger input's health.
        { id: 'cam2', source: { type: 'replay', path: samplesDir, ratePerSec: 5, loop: true }, model: 'label-orientation', trigger: { type: 'mqtt' } },
      ],
      inference: { workers: 2 },
      mqtt: { url: broker.url },
      state: { directory: tempDir(t) },
      api: { enabled: false },
      summary: { intervalMs: 0 },
    },
    { origin: 'test', baseDir: '/' },
  );
  const app = new App(config, { log: silentLogger });
  const decided: Verdict[] = [];
  app.bus.on('verdict', (v) => decided.push(v));
  const health: Array<LinesightEvents['health-changed']> = [];
  app.bus.on('health-changed', (e) => health.push(e));
  const outbox = new MemoryOutbox({ clock: app.clock });
  const feed = new CloudFeed({ line: config.line, stations: config.stations, send: config.cloud.send, outbox, bus: app.bus, clock: app.clock, log: silentLogger });
  feed.start();
  await app.start();
  t.after(() => app.stop());
  t.after(() => feed.stop());
  await plc.next(() => plc.messages.length >= 10, 15_000);

  await broker.stop();
  const during = decided.length;
  // Parts keep being inspected while the broker is away.
  await new Promise<void>((resolve) => {
    const off = app.bus.on('verdict', () => {
      if (decided.length >= during + 20) {
        off();
        resolve();
      }
    });
  });
  await broker.restart();
  await plc.next(() => plc.messages.some((m) => (JSON.parse(m.payload) as Verdict).seq > during + 25), 20_000);
  await until('the trigger input back', () => health.some((e) => e.component === 'trigger' && e.ok), 20_000, () => health);
  await app.stop();
  await plc.next(() => new Set(plc.messages.map((m) => (JSON.parse(m.payload) as Verdict).id)).size >= decided.length, 15_000);

  const received = new Set(plc.messages.map((m) => (JSON.parse(m.payload) as Verdict).id));
  const missing = decided.filter((v) => !received.has(v.id)).map((v) => v.seq);
  assert.deepEqual(missing, [], `verdicts lost in the outage (seq): ${missing.join(', ')}`);
  assert.ok(decided.every((v) => v.budgetMs === 100 && v.camera === 'cam1'));

  // Each went down once and came back once, in that order (nothing at start-up or at the stop).
  const seen = (camera: string, component: string) => health.filter((e) => e.camera === camera && e.component === component).map((e) => e.ok);
  assert.deepEqual(seen('cam1', 'local-mqtt'), [false, true], JSON.stringify(health));
  assert.deepEqual(seen('cam2', 'local-mqtt'), [false, true], JSON.stringify(health));
  assert.deepEqual(seen('cam2', 'trigger'), [false, true], JSON.stringify(health));
  const cloudHealth = outbox
    .next(10_000)
    .map((m) => checkedPayload(m))
    .filter((p) => p.kind === 'event' && p.event === 'health')
    .map((p) => `${p.station} ${p.detail.component} ${p.detail.ok}`);
  assert.deepEqual(cloudHealth.sort(), ['cam1 local-mqtt false', 'cam1 local-mqtt true', 'cam2 local-mqtt false', 'cam2 local-mqtt true', 'cam2 trigger false', 'cam2 trigger true']);
});
