// The local broker goes down while parts are being inspected and comes back: every verdict
// still arrives (QoS 1, queued and resent by the publisher), none is lost.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import type { Verdict } from '../../src/verdict.js';
import { samplesDir, tempDir } from '../helpers/env.js';
import { startMosquitto, subscribe } from '../helpers/brokers.js';

test('a broker outage loses no verdict', async (t) => {
  const broker = await startMosquitto(t, { persistent: true });
  // A PLC gateway with a persistent session: the broker keeps its messages across the restart.
  const plc = await subscribe(t, broker.url, 'linesight/v1/L6/cam1/verdict', { clientId: 'plc-gateway' });
  const config = buildConfig(
    {
      line: 'L6',
      stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 20, loop: true }, model: 'label-orientation', budgetMs: 2000 }],
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
  await app.start();
  t.after(() => app.stop());
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
  await app.stop();
  await plc.next(() => new Set(plc.messages.map((m) => (JSON.parse(m.payload) as Verdict).id)).size >= decided.length, 15_000);

  const received = new Set(plc.messages.map((m) => (JSON.parse(m.payload) as Verdict).id));
  const missing = decided.filter((v) => !received.has(v.id)).map((v) => v.seq);
  assert.deepEqual(missing, [], `verdicts lost in the outage (seq): ${missing.join(', ')}`);
});
