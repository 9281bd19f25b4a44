// The cloud path end to end, as a plant runs it: `linesight run` with the cloud broker (Mosquitto
// over mutual TLS, client certificate required) down, parts with fails among them, the process
// SIGKILLed mid-stream, started again, the broker started: every fail seen on the line arrives in
// the cloud, each id exactly once after de-duplication, in order per station.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import mqtt from 'mqtt';
import type { Verdict } from '../../src/verdict.js';
import { makeCerts, startMosquitto } from '../helpers/brokers.js';
import { cli, freePort, samplesDir, tempDir, until } from '../helpers/env.js';


test('cloud broker down, SIGKILL mid-stream, restart, broker back: every fail arrives once, in order per station', { timeout: 180_000 }, async (t) => {
  const certs = makeCerts(t);
  // The cloud side's collector has a persistent session, made before the outage: whatever the
  // service sends once the broker is back is kept for it, however fast the service reconnects.
  const cloud = await startMosquitto(t, { tls: certs, persistent: true });
  const collector = { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey), rejectUnauthorized: true, reconnectPeriod: 0, clientId: 'cloud-collector', clean: false };
  const pre = await mqtt.connectAsync(cloud.tlsUrl!, collector);
  await pre.subscribeAsync('linesight/#', { qos: 1 });
  await pre.endAsync();
  await cloud.stop(); // down from the start; it comes back at the end, on the same port

  const dir = tempDir(t);
  const localPort = await freePort();
  const config = join(dir, 'linesight.json');
  writeFileSync(
    config,
    JSON.stringify({
      line: 'L5',
      stations: [
        { id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation' },
        { id: 'cam2', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation' },
      ],
      models: { watch: false },
      state: { directory: join(dir, 'state') },
      mqtt: { embedded: { port: localPort } },
      api: { enabled: false },
      inference: { workers: 2 },
      summary: { intervalMs: 0 },
      cloud: {
        enabled: true,
        url: cloud.tlsUrl,
        thingName: 'line5-box',
        tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
        reconnect: { initialMs: 100, maxMs: 500 },
        send: { summaries: 0 },
      },
    }),
  );

  // What the line saw: every non-pass verdict on the local broker (fails, and a timeout if the
  // machine is busy: those go up as well), per run.
  const localFails: Verdict[] = [];
  const watchLocal = async () => {
    const c = await new Promise<mqtt.MqttClient>((resolve) => {
      const client = mqtt.connect(`mqtt://127.0.0.1:${localPort}`, { reconnectPeriod: 100 });
      client.once('connect', () => resolve(client));
    });
    c.on('message', (_topic, payload) => {
      const v = JSON.parse(payload.toString()) as Verdict;
      if (v.verdict !== 'pass' && !localFails.some((x) => x.id === v.id)) localFails.push(v);
    });
    await c.subscribeAsync('linesight/v1/L5/+/verdict', { qos: 1 });
    return c;
  };
  const run = (): ChildProcess => {
    // LS_TEST_CHILD_LOGS=1 shows the service's own log (JSON) when this test needs a diagnosis.
    const p = spawn(process.execPath, [cli, 'run', '--config', config], {
      stdio: process.env.LS_TEST_CHILD_LOGS ? ['ignore', 'inherit', 'inherit'] : 'ignore',
    });
    t.after(() => p.kill('SIGKILL'));
    return p;
  };
  const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));

  // Run 1: fails go into the outbox while the cloud is down; killed without warning.
  const first = run();
  const local1 = await watchLocal();
  await until('fails in run 1', () => localFails.length >= 8, 60_000);
  first.kill('SIGKILL');
  await exited(first);
  await local1.endAsync(true);
  const inRun1 = localFails.length;

  // Run 2: same state directory, the cloud still down for a while.
  const second = run();
  const local2 = await watchLocal();
  await until('fails in run 2', () => localFails.length >= inRun1 + 8, 60_000);

  // The cloud comes back; a subscriber there (with its own client certificate) collects.
  await cloud.restart();
  const received: Array<{ topic: string; id: string; station: string; seq: number; kind: string }> = [];
  // The handler is attached before the session resumes: queued messages follow the CONNACK at once.
  const sub = mqtt.connect(cloud.tlsUrl!, collector);
  t.after(() => sub.endAsync(true));
  sub.on('message', (topic, payload) => {
    const m = JSON.parse(payload.toString()) as { id: string; station: string; seq: number; kind: string };
    received.push({ topic, id: m.id, station: m.station, seq: m.seq, kind: m.kind });
  });
  await new Promise<void>((resolve, reject) => {
    sub.once('connect', () => resolve());
    sub.once('error', reject);
  });
  const seen = () => new Set(received.map((m) => m.id));
  const expected = [...localFails];
  await until(`${expected.length} fails in the cloud`, () => expected.every((v) => seen().has(v.id)), 60_000, () => ({
    missing: expected.filter((v) => !seen().has(v.id)).map((v) => v.id),
    received: received.length,
    distinct: seen().size,
    sample: [...seen()].slice(0, 5),
    topics: received.reduce<Record<string, number>>((n, m) => ((n[`${m.topic} ${m.kind}`] = (n[`${m.topic} ${m.kind}`] ?? 0) + 1), n), {}),
  }));
  second.kill('SIGTERM');
  await exited(second);
  await local2.endAsync(true);

  const verdictMessages = received.filter((m) => m.kind === 'verdict');
  assert.ok(verdictMessages.every((m) => /^linesight\/v1\/L5\/cam[12]\/verdict\/(fail|uncertain|timeout|error)$/.test(m.topic)), 'no pass goes up (passes are off by default)');
  // Exactly once after de-duplication; per station in the order the line saw them (a part that
  // timed out is decided at its deadline, possibly after the next part: emission order, not seq).
  const firstSeen = verdictMessages.filter((m, i) => verdictMessages.findIndex((x) => x.id === m.id) === i);
  for (const station of ['cam1', 'cam2']) {
    const got = firstSeen.filter((m) => m.station === station).map((m) => m.id);
    // Verdict ids are <line>.<station>.<run>.<seq>, the run being the start time in base 36.
    const runs = new Set(got.map((id) => id.split('.')[2]));
    assert.ok(runs.size >= 2, `${station}: messages from both runs (${[...runs].join(', ')})`);
    const onTheLine = expected.filter((v) => v.camera === station).map((v) => v.id);
    assert.deepEqual(
      got.filter((id) => onTheLine.includes(id)),
      onTheLine,
      `${station}: in the line's order`,
    );
  }
  for (const v of expected) assert.ok(seen().has(v.id), `fail ${v.id} arrived`);
  t.diagnostic(`${expected.length} fails seen on the line (${inRun1} in the killed run), ${firstSeen.length} distinct fails in the cloud, ${verdictMessages.length - firstSeen.length} repeats`);
});
