// The OPC UA server in the real App: the bundled model, 2 workers, the default 100 ms budget,
// parts at 10 per second. A trusted client with SignAndEncrypt sees exactly the parts the MQTT
// stream carries, in the same order; node ids survive a model swap; 20 clients cost no deadline;
// a client that stops reading is dropped.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { ClientSession } from 'node-opcua-client';
import { App } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { nodeIdOf } from '../../src/publish/opcua-address-space.js';
import { hashPassword } from '../../src/publish/password-hash.js';
import type { Verdict } from '../../src/verdict.js';
import { subscribe } from '../helpers/brokers.js';
import { samplesDir, tempDir, until } from '../helpers/env.js';
import { makeVersion } from '../helpers/model-versions.js';
import { connect, makeClient, monitor } from '../helpers/opcua-client.js';

const line = 'L9';
const plc = { username: 'plc', password: 'plc-secret' };

async function appWith(t: TestContext, options: { loop?: boolean; models?: string } = {}) {
  const config = buildConfig(
    {
      line,
      stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10, loop: options.loop ?? false }, model: 'label-orientation' }],
      inference: { workers: 2 },
      state: { directory: tempDir(t) },
      mqtt: { embedded: { port: 0 } },
      api: { port: 0 },
      summary: { intervalMs: 0 },
      ...(options.models ? { models: { directory: options.models, watch: false } } : {}),
      opcua: { enabled: true, port: 0, users: [{ username: 'plc', password: await hashPassword(plc.password, { N: 1024 }), rights: [] }] },
    },
    { origin: 'test', baseDir: '/' },
  );
  const verdicts: Verdict[] = [];
  let mqtt!: Awaited<ReturnType<typeof subscribe>>;
  let opcua!: Awaited<ReturnType<typeof monitor>>;
  let session!: ClientSession;
  const app: App = new App(config, {
    log: silentLogger,
    // Both subscribers in place once the publishers run and before the camera starts.
    onStage: async (stage) => {
      if (stage !== 'stations') return;
      mqtt = await subscribe(t, app.mqttUrl, `linesight/v1/${line}/cam1/verdict`);
      ({ session } = await connect(t, { endpoint: app.opcua!.endpointUrl, trustIn: app.opcua!.pkiDirectory, user: plc }));
      opcua = await monitor(session, ['Snapshot', 'PartId', 'Sequence'].map((n) => nodeIdOf(line, 'cam1', n)), { publishingIntervalMs: 50 });
    },
  });
  app.bus.on('verdict', (v) => verdicts.push(v));
  t.after(() => app.stop());
  await app.start();
  return { app, verdicts, mqtt: () => mqtt, opcua: () => opcua, session: () => session };
}

const snapshotsOf = (received: Array<{ node: string; value: unknown }>) =>
  received.filter((n) => n.node.endsWith('.Snapshot') && typeof n.value === 'string').map((n) => JSON.parse(n.value as string) as { sequence: number; partId: string; partSeq: number; verdict: string });

test('a trusted SignAndEncrypt client receives every verdict of a run, as MQTT does: none missing, none out of order, none torn', async (t) => {
  const { app, verdicts, mqtt, opcua } = await appWith(t);
  const parts = readdirSync(samplesDir).filter((f) => f.endsWith('.jpg')).length;
  await until('every part decided', () => verdicts.length >= parts && app.stations[0]!.status().inFlight === 0, 30_000);
  await until('every part on MQTT and OPC UA', () => mqtt().messages.length >= parts && snapshotsOf(opcua().received).length >= parts, 10_000);
  const viaMqtt = mqtt().messages.map((m) => JSON.parse(m.payload) as Verdict);
  const viaOpcua = snapshotsOf(opcua().received);
  assert.equal(viaOpcua.length, parts);
  assert.deepEqual(viaOpcua.map((s) => [s.partId, s.partSeq, s.verdict]), viaMqtt.map((v) => [v.partId, v.seq, v.verdict]), 'same parts, same order, same verdicts');
  assert.deepEqual(viaOpcua.map((s) => s.sequence), viaOpcua.map((_, i) => i + 1), 'Sequence without a gap');
  // Torn snapshot: the PartId and Sequence notifications of each part name the same part as its Snapshot.
  const partIds = opcua().received.filter((n) => n.node.endsWith('.PartId') && n.value).map((n) => n.value);
  const seqs = opcua().received.filter((n) => n.node.endsWith('.Sequence') && n.value).map((n) => n.value);
  assert.deepEqual(partIds, viaOpcua.map((s) => s.partId));
  assert.deepEqual(seqs, viaOpcua.map((s) => s.sequence));
  assert.equal(verdicts.filter((v) => v.verdict === 'timeout' || v.verdict === 'error').length, 0);
  const metrics = await (await fetch(`${app.apiUrl}/metrics`)).text();
  assert.match(metrics, /linesight_opcua_sessions 1\b/);
  assert.match(metrics, /linesight_opcua_refused\{reason="certificate"\} 0/);
});

test('node ids are the same after a model swap', async (t) => {
  const models = tempDir(t);
  makeVersion(models, '1.0.0');
  makeVersion(models, '1.1.0', (m) => (m.description = 'next release'));
  const { app, session } = await appWith(t, { loop: true, models });
  const ids = async () => (await session().browse(`ns=1;s=${line}.cam1`)).references!.map((r) => r.nodeId.toString()).sort();
  const before = await ids();
  await app.models.activate('cam1', 'label-orientation@1.1.0');
  await until('a part decided by 1.1.0', async () => (await session().read({ nodeId: nodeIdOf(line, 'cam1', 'ModelVersion'), attributeId: 13 })).value.value === '1.1.0', 20_000);
  assert.deepEqual(await ids(), before);
  assert.equal((await session().read({ nodeId: nodeIdOf(line, 'cam1', 'ServingModel'), attributeId: 13 })).value.value, 'label-orientation@1.1.0');
});

test('20 subscribed clients: no deadline missed, no timeout; a client that stops reading is dropped without memory growth', async (t) => {
  const { app, verdicts } = await appWith(t, { loop: true });
  const pki = tempDir(t, 'opcua-client-pki-');
  // One client certificate for all (one application, many sessions), trusted once. The 20 clients
  // run in a child process, as they would on other machines: their own crypto must not share the
  // server's event loop, or the test would measure the clients.
  await makeClient(t, { endpoint: app.opcua!.endpointUrl, trustIn: app.opcua!.pkiDirectory, pki });
  const clients = spawn(process.execPath, [join(import.meta.dirname, '..', 'helpers', 'opcua-clients-child.js'), app.opcua!.endpointUrl, pki, plc.username, plc.password, `ns=1;s=${line}.cam1`, '20', '50'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.after(() => clients.kill('SIGKILL'));
  const seenByClient0: string[] = [];
  await new Promise<void>((resolve, reject) => {
    clients.stdout.on('data', (d: Buffer) => {
      for (const l of d.toString().split('\n')) {
        if (l === 'ready') resolve();
        else if (l) seenByClient0.push(l.split(' ')[0]!);
      }
    });
    clients.once('exit', (code) => reject(new Error(`clients exited ${code}`)));
  });
  // 20, and the session every test here opens at start.
  assert.equal(app.opcua!.stats().sessions, 21);
  const start = verdicts.length;
  await until('100 parts with 20 clients', () => verdicts.length >= start + 100, 30_000);
  const during = verdicts.slice(start);
  assert.deepEqual(during.filter((v) => !v.deadlineMet || v.verdict === 'timeout' || v.verdict === 'error').map((v) => v.partId), [], 'no part missed its deadline');
  const last = during.at(-1)!.partId;
  await until('the clients saw the last part', () => seenByClient0.includes(last), 10_000);
  assert.ok(app.opcua!.stats().subscriptions >= 20);
  clients.kill('SIGKILL');
  await until('the killed clients\' sessions closed', () => app.opcua!.stats().sessions === 1, 30_000);

  // A PLC that freezes (SIGSTOP): it neither reads nor asks for notifications any more.
  const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'helpers', 'opcua-subscriber-child.js'), app.opcua!.endpointUrl, pki, plc.username, plc.password, `ns=1;s=${line}.cam1`], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.after(() => child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`subscriber exited ${code}`)));
  });
  assert.equal(app.opcua!.stats().sessions, 2);
  child.kill('SIGSTOP');
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const partsBefore = verdicts.length;
  // Its session timeout is 3 s: the server closes it, with its subscription and queues.
  await until('the frozen client dropped', () => app.opcua!.stats().sessions === 1, 20_000);
  await until('parts kept coming', () => verdicts.length >= partsBefore + 50, 20_000);
  global.gc?.();
  const grewMB = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
  assert.ok(grewMB < 20, `heap grew ${grewMB.toFixed(1)} MB while a client was frozen`);
  assert.deepEqual(verdicts.slice(partsBefore).filter((v) => !v.deadlineMet).map((v) => v.partId), []);
});
