// The box under Greengrass, cloud through the nucleus: the real App (2 workers, the default 100 ms
// budget, two stations on the bundled parts) with the recipe's topics and cloud transport, the
// SQLite outbox, and a fake nucleus (test/helpers/fake-nucleus-ipc.ts, the real event-stream RPC
// wire) enforcing the recipe's access policy: every non-pass verdict of the run reaches the
// nucleus exactly once, in the line's order per station, as the payload the cloud feed wrote.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { App } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import type { Verdict } from '../../src/verdict.js';
import { checkedPayload } from '../helpers/cloud-payloads.js';
import { repo, samplesDir, tempDir, until } from '../helpers/env.js';
import { FakeNucleusIpc, mqttProxyPolicies } from '../helpers/fake-nucleus-ipc.js';
import { parseRecipe } from '../helpers/greengrass-nucleus.js';

const parts = readdirSync(samplesDir).filter((f) => f.endsWith('.jpg')).length;
const recipeFile = join(repo, 'deploy', 'greengrass', 'com.linesight.Inspector.recipe.yaml');

test('an App with 2 workers under a (fake) nucleus: every non-pass verdict reaches it once, in order per station', { timeout: 120_000 }, async (t) => {
  const recipe = parseRecipe(readFileSync(recipeFile, 'utf8'), recipeFile);
  const defaults = recipe.ComponentConfiguration!.DefaultConfiguration! as Record<string, any>;
  const thing = 'line-7-box-1';
  const dir = tempDir(t, 'gg-e2e-');
  const nucleus = new FakeNucleusIpc({ socketPath: join(dir, 'ipc.socket'), authToken: 'svcuid-e2e', policies: mqttProxyPolicies(defaults['accessControl'], thing) });
  await nucleus.start();
  t.after(() => nucleus.stop());

  const station = (id: string) => ({ id, source: { type: 'replay', path: samplesDir, ratePerSec: 10, loop: false }, model: 'label-orientation' });
  const config = buildConfig(
    {
      line: 'L7',
      stations: [station('cam1'), station('cam2')],
      models: { watch: false },
      state: { directory: join(dir, 'state') },
      mqtt: { embedded: { port: 0 } },
      api: { enabled: false },
      inference: { workers: 2 },
      summary: { intervalMs: 0 },
      // The recipe's topics, cloud switched on as a deployment would.
      cloud: { ...defaults['linesight'].cloud, enabled: true, send: { ...defaults['linesight'].cloud.send, summaries: 0 }, reconnect: { initialMs: 50, maxMs: 200 } },
    },
    {
      origin: 'test',
      baseDir: dir,
      // What the recipe's Setenv and the nucleus put in the Run step's environment.
      env: { LINESIGHT_CLOUD_TRANSPORT: defaults['cloudTransport'], LINESIGHT_CLOUD_THING_NAME: thing, AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: nucleus.socketPath, SVCUID: 'svcuid-e2e' },
    },
  );
  assert.equal(config.cloud.transport, 'greengrass-ipc');
  const app = new App(config, { log: silentLogger });
  const verdicts: Verdict[] = [];
  app.bus.on('verdict', (v) => verdicts.push(v));
  t.after(() => app.stop());
  await app.start();
  assert.equal(app.config.stations[0]!.budgetMs, 100);
  assert.equal(app.cloud?.name, 'cloud-greengrass-ipc');
  await until('every part inspected', () => verdicts.length >= 2 * parts, 90_000, () => verdicts.length);
  const notPass = verdicts.filter((v) => v.verdict !== 'pass');
  assert.ok(notPass.length > 0, 'the samples include rejected parts');
  const arrived = () => nucleus.published.map((m) => ({ ...m, p: checkedPayload(m) })).filter((m) => m.p.kind === 'verdict');
  await until('every non-pass verdict at the nucleus', () => notPass.every((v) => arrived().some((m) => m.p.id === v.id)), 30_000, () => [app.cloud?.health(), arrived().length, notPass.length]);
  await until('the outbox drained', () => app.cloud!.outbox.stats().depth === 0, 10_000, () => app.cloud?.outbox.stats());
  await app.stop();

  const got = arrived();
  assert.equal(got.length, notPass.length, 'each exactly once');
  for (const cam of ['cam1', 'cam2']) {
    assert.deepEqual(got.filter((m) => m.p.station === cam).map((m) => m.p.id), notPass.filter((v) => v.camera === cam).map((v) => v.id), `${cam}: in the line's order`);
  }
  for (const m of got) {
    assert.equal(m.topic, `linesight/v1/${thing}/L7/${m.p.station}/verdict/${m.p.verdict}`);
    assert.equal(m.qos, '1');
  }
  const events = nucleus.published.filter((m) => checkedPayload(m).kind === 'event');
  assert.ok(events.some((m) => m.topic === `linesight/v1/${thing}/L7/cam1/event/camera-state`), 'events go the same way');
  assert.deepEqual(nucleus.unauthorized, [], 'the recipe\'s policy allows every topic of the run');
  assert.equal(app.cloud!.outbox.stats().quarantined, 0);
  t.diagnostic(`${verdicts.length} parts, ${got.length} non-pass verdicts and ${events.length} events through the nucleus`);
});
