// The cloud outbox through the API and /metrics on a running service (2 workers, the default
// budget, Mosquitto over mutual TLS): its state, a poison message quarantined with its reason,
// retried (refused again) and purged with the token, and the numbers an operator watches.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { makeCerts, startMosquitto } from '../helpers/brokers.js';
import { samplesDir, tempDir, until } from '../helpers/env.js';
import { assertPromtoolClean } from '../helpers/promtool.js';

const token = 'cloud-api-token-0123456789';


function appWith(t: Parameters<typeof tempDir>[0], cloud: Record<string, unknown>) {
  const config = buildConfig(
    {
      line: 'L8',
      stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation' }],
      models: { watch: false },
      state: { directory: tempDir(t) },
      mqtt: { embedded: { port: 0 } },
      api: { port: 0, token },
      inference: { workers: 2 },
      summary: { intervalMs: 0 },
      cloud,
    },
    { origin: 'test', baseDir: '/' },
  );
  const app = new App(config, { log: silentLogger });
  t.after(() => app.stop());
  return app;
}

test('the outbox over HTTP: state, a poison message quarantined with its reason, retried and purged with the token; /metrics shows it', async (t) => {
  const certs = makeCerts(t);
  const broker = await startMosquitto(t, { tls: certs });
  const app = appWith(t, { enabled: true, url: broker.tlsUrl, thingName: 'l8-box', tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } });
  await app.start();
  const api = app.apiUrl;
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const get = async (path: string) => (await fetch(`${api}${path}`)).json() as Promise<Record<string, any>>;

  await until('connected and fails published', async () => {
    const s = await get('/outbox');
    return s.cloud?.connected === true && s.cloud.published > 0;
  });

  // A message no broker takes: a topic deeper than AWS IoT Core's 7 slashes.
  app.cloud!.outbox.add({ id: 'poison-1', station: 'cam1', class: 'event', topic: 'a/b/c/d/e/f/g/h/i', payload: Buffer.from('{}') });
  app.cloud!.notify();
  await until('quarantined', async () => (await get('/outbox')).quarantined === 1);
  const q = await get('/outbox/quarantine');
  assert.equal(q.total, 1);
  assert.equal(q.messages[0].id, 'poison-1');
  assert.match(q.messages[0].reason, /slash/);
  assert.equal(Buffer.from(q.messages[0].payload, 'base64').toString(), '{}');

  // Mutating routes need the token; a retry puts it back, and it is refused again for the same reason.
  assert.equal((await fetch(`${api}/outbox/quarantine/retry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 401);
  const retry = await fetch(`${api}/outbox/quarantine/retry`, { method: 'POST', headers: auth, body: JSON.stringify({ ids: ['poison-1'] }) });
  assert.deepEqual(await retry.json(), { retried: 1 });
  await until('quarantined again', async () => (await get('/outbox/quarantine')).total === 1);
  const bad = await fetch(`${api}/outbox/quarantine/purge`, { method: 'POST', headers: auth, body: JSON.stringify({ ids: [{ id: 'poison-1' }] }) });
  assert.equal(bad.status, 400, 'ids are strings');
  const purge = await fetch(`${api}/outbox/quarantine/purge`, { method: 'POST', headers: auth, body: JSON.stringify({ ids: ['poison-1'] }) });
  assert.deepEqual(await purge.json(), { purged: 1 });
  assert.equal((await get('/outbox')).quarantined, 0);

  // Fails flowed past the poison message all along. (The first message published may have been
  // the camera's start event, so the first fail can come later than `published > 0`.)
  const failsFed = (text: string) => Number(/^linesight_cloud_feed_messages\{class="fail"\} (\d+)$/m.exec(text)?.[1] ?? 0);
  await until('a fail fed to the cloud', async () => failsFed(await (await fetch(`${api}/metrics`)).text()) > 0);
  const metrics = await (await fetch(`${api}/metrics`)).text();
  assert.match(metrics, /^linesight_cloud_connected 1$/m);
  assert.match(metrics, /^linesight_outbox_quarantined 0$/m);
  assert.ok(Number(/^linesight_cloud_published (\d+)$/m.exec(metrics)?.[1]) > 0);
  assert.ok(Number(/^linesight_cloud_refused (\d+)$/m.exec(metrics)?.[1]) >= 2, 'refused twice (first try and retry)');
  assert.match(metrics, /linesight_queue_capacity\{queue="cloud-outbox"\} \d+/);
  assert.ok(failsFed(metrics) > 0, 'fails added by the feed');
  assert.match(metrics, /^linesight_cloud_feed_problems\{reason="error"\} 0$/m);
  // The SQLite outbox in its default (background) mode: every fsync succeeded.
  assert.match(metrics, /^linesight_outbox_sync_failures 0$/m);
  assert.match(metrics, /^linesight_outbox_unsynced \d+$/m);
  // The cloud, outbox and upload metrics pass promtool's lint as well.
  assertPromtoolClean(metrics);
});

test('with cloud publishing off the outbox routes answer 404 LS_ERR_CLOUD_DISABLED', async (t) => {
  const app = appWith(t, {});
  await app.start();
  const r = await fetch(`${app.apiUrl}/outbox`);
  assert.equal(r.status, 404);
  assert.equal(((await r.json()) as { error: string }).error, 'LS_ERR_CLOUD_DISABLED');
});
