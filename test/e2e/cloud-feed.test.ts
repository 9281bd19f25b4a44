// The whole box feeding the cloud outbox: the bundled model on the bundled parts (2 workers, the
// default 100 ms budget), CloudFeed on the App's event bus, a MemoryOutbox: every non-pass part
// becomes one message with the verdict's id, summaries count every part, the camera's start is an
// event, every payload matches its schema.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { App } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { CloudFeed } from '../../src/publish/cloud-feed.js';
import { MemoryOutbox } from '../../src/publish/outbox-memory.js';
import type { Verdict } from '../../src/verdict.js';
import { samplesDir, tempDir } from '../helpers/env.js';
import { checkedPayload } from '../helpers/cloud-payloads.js';

const parts = readdirSync(samplesDir).filter((f) => f.endsWith('.jpg')).length;

test('an App with 2 workers feeds the outbox: non-pass parts one by one, summaries, the camera event', async (t) => {
  const config = buildConfig(
    {
      line: 'L7',
      stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10, loop: false }, model: 'label-orientation' }],
      mqtt: { embedded: { port: 0 } },
      api: { enabled: false },
      inference: { workers: 2 },
      summary: { intervalMs: 0 },
      cloud: { send: { summaries: 1 } },
    },
    { origin: 'test', baseDir: tempDir(t) },
  );
  const app = new App(config, { log: silentLogger });
  const outbox = new MemoryOutbox({ clock: app.clock });
  const feed = new CloudFeed({ line: config.line, stations: config.stations, send: config.cloud.send, outbox, bus: app.bus, clock: app.clock, log: silentLogger });
  const verdicts: Verdict[] = [];
  app.bus.on('verdict', (v) => verdicts.push(v));
  const all = new Promise<void>((resolve) => app.bus.on('verdict', () => verdicts.length >= parts && resolve()));
  feed.start();
  t.after(async () => {
    feed.stop();
    await app.stop();
  });
  await app.start();
  await all;
  await app.stop();
  feed.stop();

  assert.equal(app.config.stations[0]!.budgetMs, 100);
  const messages = outbox.next(10_000).map((m) => ({ ...m, p: checkedPayload(m) }));
  const notPass = verdicts.filter((v) => v.verdict !== 'pass');
  assert.ok(notPass.length > 0, 'the samples include rejected parts');
  const sentVerdicts = messages.filter((m) => m.p.kind === 'verdict');
  assert.deepEqual(sentVerdicts.map((m) => m.id).sort(), notPass.map((v) => v.id).sort());
  for (const m of sentVerdicts) assert.equal(m.topic, `linesight/v1/L7/cam1/verdict/${m.p.verdict}`);
  const summaries = messages.filter((m) => m.p.kind === 'summary');
  assert.ok(summaries.length >= 1);
  assert.equal(summaries.reduce((n, m) => n + m.p.parts, 0), parts, 'summaries count every part once');
  assert.equal(summaries.reduce((n, m) => n + m.p.counts.fail, 0), verdicts.filter((v) => v.verdict === 'fail').length);
  // Windows follow each other without gaps or overlaps.
  for (let i = 1; i < summaries.length; i++) assert.equal(summaries[i]!.p.window.start, summaries[i - 1]!.p.window.end);
  const events = messages.filter((m) => m.p.kind === 'event');
  assert.ok(events.some((e) => e.p.event === 'camera-state' && e.p.detail.running === true), JSON.stringify(events.map((e) => e.p)));
  assert.equal(new Set(messages.map((m) => m.id)).size, messages.length);
});
