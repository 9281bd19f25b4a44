// A camera that stops while running (here a replay that reaches its last file) is reported on the
// event bus once, as the cloud feed and the dashboard need it; a camera that keeps streaming is not.
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { App } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import type { LinesightEvents } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { samplesDir, tempDir } from '../helpers/env.js';

test('a camera that ends while running is reported once as down; a streaming one is not reported', async (t) => {
  const three = tempDir(t);
  for (const name of readdirSync(samplesDir).filter((n) => n.endsWith('.jpg')).slice(0, 3)) copyFileSync(join(samplesDir, name), join(three, name));
  const config = buildConfig(
    {
      line: 'L4',
      stations: [
        { id: 'short', source: { type: 'replay', path: three, ratePerSec: 10, loop: false }, model: 'label-orientation' },
        { id: 'steady', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation' },
      ],
      models: { watch: false },
      state: { directory: tempDir(t) },
      mqtt: { embedded: { port: 0 } },
      api: { enabled: false },
      inference: { workers: 2 },
      summary: { intervalMs: 0 },
    },
    { origin: 'test', baseDir: '/' },
  );
  const app = new App(config, { log: silentLogger });
  const events: Array<LinesightEvents['camera-state']> = [];
  app.bus.on('camera-state', (e) => events.push(e));
  await app.start();
  t.after(() => app.stop());
  const deadline = Date.now() + 10_000;
  while (!events.some((e) => e.camera === 'short' && !e.running) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  // Both started (reported by the stations themselves); then only the short one changed.
  await new Promise((r) => setTimeout(r, 2500));
  const after = events.filter((e) => !/camera started/.test(e.detail));
  assert.deepEqual(after.map((e) => [e.camera, e.running]), [['short', false]]);
  assert.match(after[0]!.detail, /ended/);
});
