// Sparkplug B against a real Mosquitto: a subscriber decodes the protobuf payloads and checks
// what the specification asks: births before data, seq 0..255 wrapping, bdSeq shared by NBIRTH
// and the NDEATH will, the death certificate when the process is killed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import mqtt from 'mqtt';
import { systemClock } from '../../src/clock.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { decodePayload, encodePayload } from '../../src/publish/sparkplug-payloads.js';
import { SparkplugPublisher } from '../../src/publish/sparkplug.js';
import { cloudTlsOptions, type CloudTls } from '../../src/publish/cloud-tls.js';
import { makeCerts, startMosquitto } from '../helpers/brokers.js';
import { tempDir, until } from '../helpers/env.js';
import { makeVerdict } from '../helpers/verdict-factory.js';

interface Seen {
  topic: string;
  type: string;
  seq: number | null;
  metrics: Map<string, unknown>;
}

async function sparkplugSubscriber(t: TestContext, url: string): Promise<Seen[]> {
  const client = await mqtt.connectAsync(url, { clean: true });
  t.after(() => client.endAsync(true));
  const seen: Seen[] = [];
  client.on('message', (topic, payload) => {
    const p = decodePayload(payload);
    const seq = p.seq === undefined || p.seq === null ? null : Number(p.seq);
    seen.push({ topic, type: topic.split('/')[2]!, seq, metrics: new Map((p.metrics ?? []).map((m) => [m.name!, typeof m.value === 'object' && m.value !== null && 'toNumber' in m.value ? (m.value as { toNumber(): number }).toNumber() : m.value])) });
  });
  await client.subscribeAsync('spBv1.0/#', { qos: 1 });
  return seen;
}

function edgeNode(t: TestContext, url: string, bdSeqFile: string, tls?: CloudTls) {
  const publisher = new SparkplugPublisher({
    url,
    ...(tls ? { tls } : {}),
    groupId: 'L7',
    edgeNodeId: 'box-1',
    stations: ['cam1', 'cam2'],
    view: () => ({ cameraState: 'streaming', cameraRunning: true, model: 'label-orientation@1.0.0' }),
    bdSeqFile,
    bus: new EventBus(silentLogger),
    clock: systemClock,
    log: silentLogger,
  });
  t.after(() => publisher.stop(0));
  return publisher;
}

test('NBIRTH then a DBIRTH per station before any DDATA; one DDATA per part; seq wraps from 255 to 0', async (t) => {
  const broker = await startMosquitto(t);
  const seen = await sparkplugSubscriber(t, broker.url);
  const publisher = edgeNode(t, broker.url, join(tempDir(t), 'bdseq'));
  await publisher.start();
  await until('births', () => seen.filter((s) => s.type === 'DBIRTH').length === 2);
  const parts = 300;
  for (let i = 1; i <= parts; i++) publisher.publish(makeVerdict({ seq: i, camera: i % 2 ? 'cam1' : 'cam2', kind: i % 5 ? 'pass' : 'fail' }));
  await until('every DDATA', () => seen.filter((s) => s.type === 'DDATA').length === parts);
  assert.deepEqual(seen.slice(0, 3).map((s) => s.topic), ['spBv1.0/L7/NBIRTH/box-1', 'spBv1.0/L7/DBIRTH/box-1/cam1', 'spBv1.0/L7/DBIRTH/box-1/cam2']);
  assert.equal(seen[0]!.seq, 0);
  assert.equal(seen[0]!.metrics.get('bdSeq'), 0, 'first session of a fresh state directory');
  // The DBIRTH names every metric a DDATA will carry.
  const born = [...seen[1]!.metrics.keys()];
  for (const d of seen.filter((s) => s.type === 'DDATA')) for (const name of d.metrics.keys()) assert.ok(born.includes(name), `${name} in DBIRTH`);
  const seqs = seen.map((s) => s.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => i % 256), 'seq counts every message of the session and wraps at 256');
  assert.ok(seqs.length > 256);
  const cam1 = seen.filter((s) => s.topic === 'spBv1.0/L7/DDATA/box-1/cam1');
  assert.deepEqual(cam1.map((s) => s.metrics.get('Part/Id')), Array.from({ length: parts / 2 }, (_, i) => `SN-${2 * i + 1}`));
  assert.deepEqual(cam1.map((s) => s.metrics.get('Sequence')), cam1.map((_, i) => i + 1));
  const last = cam1.at(-1)!.metrics;
  assert.equal(last.get('Counts/Total'), parts / 2);
  assert.equal(last.get('Verdict/Text'), 'pass');
});

test('a killed edge node gets its death certificate (the will) with the bdSeq of its birth; the next life takes the next bdSeq', async (t) => {
  const broker = await startMosquitto(t);
  const seen = await sparkplugSubscriber(t, broker.url);
  const bdSeqFile = join(tempDir(t), 'bdseq');
  const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'helpers', 'sparkplug-child.js'), broker.url, bdSeqFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('born') && resolve());
    child.once('exit', (code) => reject(new Error(`edge node exited ${code}`)));
  });
  await until('NBIRTH seen', () => seen.some((s) => s.type === 'NBIRTH'));
  child.kill('SIGKILL');
  await until('NDEATH from the broker', () => seen.some((s) => s.type === 'NDEATH'), 10_000);
  const birth = seen.find((s) => s.type === 'NBIRTH')!;
  const death = seen.find((s) => s.type === 'NDEATH')!;
  assert.equal(death.metrics.get('bdSeq'), birth.metrics.get('bdSeq'));
  assert.equal(death.seq, null, 'NDEATH carries no seq');
  // The restarted box: a new session, the next bdSeq, births again.
  const publisher = edgeNode(t, broker.url, bdSeqFile);
  await publisher.start();
  await until('second NBIRTH', () => seen.filter((s) => s.type === 'NBIRTH').length === 2);
  assert.equal(seen.filter((s) => s.type === 'NBIRTH')[1]!.metrics.get('bdSeq'), (birth.metrics.get('bdSeq') as number) + 1);
  // A graceful stop announces the death itself, with the new bdSeq, and only once: it ends with
  // DISCONNECT, so the broker drops the will (a forced close made the broker send a second NDEATH).
  await publisher.stop(0);
  await until('second NDEATH', () => seen.filter((s) => s.type === 'NDEATH').length >= 2);
  // A marker published after the stop returned comes after anything the broker would still send for that session.
  const marker = await mqtt.connectAsync(broker.url, { clean: true });
  t.after(() => marker.endAsync(true));
  await marker.publishAsync('spBv1.0/L7/MARK/test', encodePayload({ timestamp: Date.now(), metrics: [] }), { qos: 1 });
  await until('the marker', () => seen.some((s) => s.type === 'MARK'));
  const deaths = seen.filter((s) => s.type === 'NDEATH');
  assert.deepEqual(deaths.map((d) => d.metrics.get('bdSeq')), [birth.metrics.get('bdSeq'), publisher.bdSeq], 'one NDEATH per session');
});

test('Rebirth: an NCMD Node Control/Rebirth = true brings NBIRTH (same bdSeq, seq 0) and every DBIRTH with the current values again', async (t) => {
  const broker = await startMosquitto(t);
  const seen = await sparkplugSubscriber(t, broker.url);
  const publisher = edgeNode(t, broker.url, join(tempDir(t), 'bdseq'));
  await publisher.start();
  await until('births', () => seen.filter((s) => s.type === 'DBIRTH').length === 2);
  for (let i = 1; i <= 5; i++) publisher.publish(makeVerdict({ seq: i, camera: 'cam1', kind: i === 5 ? 'fail' : 'pass' }));
  await until('DDATA', () => seen.filter((s) => s.type === 'DDATA').length === 5);
  // A host application (Ignition, a Primary Host) asks; a false value and another node's NCMD ask nothing.
  const host = await mqtt.connectAsync(broker.url, { clean: true });
  t.after(() => host.endAsync(true));
  const rebirth = (value: boolean) => encodePayload({ timestamp: Date.now(), metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value }] });
  await host.publishAsync('spBv1.0/L7/NCMD/box-1', rebirth(false), { qos: 0 });
  await host.publishAsync('spBv1.0/L7/NCMD/box-2', rebirth(true), { qos: 0 });
  await host.publishAsync('spBv1.0/L7/NCMD/box-1', rebirth(true), { qos: 0 });
  await until('rebirth', () => seen.filter((s) => s.type === 'DBIRTH').length === 4);
  // Commands are handled in order, so anything the first two caused would have come before this part.
  publisher.publish(makeVerdict({ seq: 6, camera: 'cam2', kind: 'pass' }));
  await until('DDATA after the rebirth', () => seen.filter((s) => s.type === 'DDATA').length === 6);
  const mine = seen.filter((s) => s.topic.includes('/box-1') && s.type !== 'NCMD');
  assert.deepEqual(mine.map((s) => s.type), ['NBIRTH', 'DBIRTH', 'DBIRTH', 'DDATA', 'DDATA', 'DDATA', 'DDATA', 'DDATA', 'NBIRTH', 'DBIRTH', 'DBIRTH', 'DDATA'], 'one rebirth, nothing else');
  const [first, again] = mine.filter((s) => s.type === 'NBIRTH');
  assert.equal(again!.metrics.get('bdSeq'), first!.metrics.get('bdSeq'), 'the same MQTT session keeps its bdSeq');
  assert.equal(again!.metrics.get('Node Control/Rebirth'), false);
  assert.deepEqual(mine.slice(8).map((s) => s.seq), [0, 1, 2, 3], 'seq starts again at 0 with the NBIRTH');
  // The new DBIRTH carries the last part and the counters, so a host that lost its state has it all again.
  const cam1 = mine[9]!;
  assert.equal(cam1.topic, 'spBv1.0/L7/DBIRTH/box-1/cam1');
  assert.deepEqual(['Part/Id', 'Sequence', 'Verdict/Text', 'Counts/Total', 'Counts/Fail'].map((n) => cam1.metrics.get(n)), ['SN-5', 5, 'fail', 5, 1]);
  assert.equal(mine[11]!.metrics.get('Sequence'), 1, 'cam2: its first part after the rebirth');
});

test('on a broker that requires a client certificate (sparkplug.broker: cloud, with cloud.tls): born, data, a graceful death', async (t) => {
  const certs = makeCerts(t);
  const broker = await startMosquitto(t, { tls: certs });
  // The subscriber uses the plain listener of the same broker, as a SCADA host inside the cloud would.
  const seen = await sparkplugSubscriber(t, broker.url);
  const tls = cloudTlsOptions({ ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, rejectUnauthorized: true });
  const publisher = edgeNode(t, broker.tlsUrl!, join(tempDir(t), 'bdseq'), tls);
  await publisher.start();
  await until('births over mutual TLS', () => seen.filter((s) => s.type === 'DBIRTH').length === 2, 20_000, () => publisher.health());
  publisher.publish(makeVerdict({ seq: 1, camera: 'cam2', kind: 'fail' }));
  await until('DDATA', () => seen.some((s) => s.type === 'DDATA'));
  await publisher.stop(0);
  await until('NDEATH', () => seen.some((s) => s.type === 'NDEATH'));
  assert.deepEqual(seen.map((s) => s.type), ['NBIRTH', 'DBIRTH', 'DBIRTH', 'DDATA', 'NDEATH']);

  // Without a client certificate the broker refuses the edge node, and health says why.
  const refused = edgeNode(t, broker.tlsUrl!, join(tempDir(t), 'bdseq'), cloudTlsOptions({ ca: certs.ca, rejectUnauthorized: true }));
  await refused.start();
  await until('a refusal in health', () => refused.health().lastError !== null, 20_000);
  assert.equal(refused.health().connected, false);
});
