// The OPC UA publisher on its own, with real node-opcua clients over TCP on loopback: security
// (trusted certificate, SignAndEncrypt, users), the consistent snapshot per part, stable node ids
// and the methods' rights.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { AttributeIds, BrowseDirection, MessageSecurityMode, MethodIds, ObjectTypeIds, SecurityPolicy, StatusCodes, UserTokenType, type ClientSession } from 'node-opcua-client';
import { DataType } from 'node-opcua-variant';
import { systemClock } from '../../src/clock.js';
import { buildConfig } from '../../src/config/load.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { OpcUaPublisher } from '../../src/publish/opcua-server.js';
import { nodeIdOf, stationVariables } from '../../src/publish/opcua-address-space.js';
import { partSnapshotFieldNames } from '../../src/publish/opcua-part-snapshot.js';
import { hashPassword } from '../../src/publish/password-hash.js';
import { tempDir, until } from '../helpers/env.js';
import { connect, makeClient, identity, monitor, monitorEvents } from '../helpers/opcua-client.js';
import { makeVerdict } from '../helpers/verdict-factory.js';

const line = 'L7';

async function users() {
  return [
    { username: 'plc', password: await hashPassword('plc-secret', { N: 1024 }), rights: [] },
    { username: 'operator', password: await hashPassword('op-secret', { N: 1024 }), rights: ['acknowledge', 'trigger'] },
  ];
}

async function startServer(t: TestContext, state: string, extra: Record<string, unknown> = {}) {
  const config = buildConfig(
    { line, stations: [{ id: 'cam1', source: { type: 'replay', path: '/nonexistent' }, model: 'label-orientation' }], state: { directory: state }, opcua: { enabled: true, port: 0, users: await users(), ...extra } },
    { origin: 'test', baseDir: '/' },
  );
  const bus = new EventBus(silentLogger);
  const triggered: Array<string | undefined> = [];
  const publisher = new OpcUaPublisher({
    config: { ...config.opcua, pkiDirectory: config.opcua.pkiDirectory! },
    line,
    stations: ['cam1'],
    view: () => ({ cameraState: 'streaming', cameraRunning: true, model: { name: 'label-orientation', version: '1.0.0' } }),
    trigger: (_id, partId) => (triggered.push(partId), { partId: partId ?? 'made-1', seq: 7 }),
    bus,
    clock: systemClock,
    log: silentLogger,
    version: 'test',
  });
  await publisher.start();
  t.after(() => publisher.stop(0));
  return { publisher, bus, triggered, pki: config.opcua.pkiDirectory! };
}

const plc = { username: 'plc', password: 'plc-secret' };

test('server certificate made on first start in the state directory, kept across restarts', async (t) => {
  const state = tempDir(t);
  const first = await startServer(t, state);
  const own = join(first.pki, 'own', 'certs', 'certificate.pem');
  assert.ok(existsSync(own), 'application certificate in <state>/opcua-pki/own/certs');
  const before = readdirSync(join(first.pki, 'own', 'certs'));
  const { readFileSync } = await import('node:fs');
  const pem = readFileSync(own, 'utf8');
  await first.publisher.stop(0);
  await startServer(t, state);
  assert.equal(readFileSync(own, 'utf8'), pem, 'same certificate after a restart');
  assert.deepEqual(readdirSync(join(first.pki, 'own', 'certs')), before);
});

test('a trusted client with SignAndEncrypt receives every part, in order, each snapshot consistent', async (t) => {
  const { publisher, pki } = await startServer(t, tempDir(t));
  for (const policy of [SecurityPolicy.Basic256Sha256, SecurityPolicy.Aes128_Sha256_RsaOaep]) {
    const { session } = await connect(t, { endpoint: publisher.endpointUrl, trustIn: pki, user: plc, policy, mode: MessageSecurityMode.SignAndEncrypt });
    const names = ['Sequence', 'PartId', 'LastVerdict', 'Snapshot'] as const;
    const m = await monitor(session, names.map((n) => nodeIdOf(line, 'cam1', n)));
    const base = publisher.stats().published;
    const count = 60;
    for (let i = 1; i <= count; i++) {
      publisher.publish(makeVerdict({ seq: base + i, line, kind: i % 7 === 0 ? 'fail' : 'pass' }));
      // Several parts between two publishes, and some alone.
      if (i % 5 === 0) await new Promise((r) => setTimeout(r, 30));
    }
    const snapshots = () => m.received.filter((n) => n.node.endsWith('.Snapshot') && typeof n.value === 'string' && JSON.parse(n.value).partSeq > base);
    for (let waited = 0; snapshots().length < count && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    const parsed = snapshots().map((n) => JSON.parse(n.value as string) as { sequence: number; partId: string; partSeq: number; verdict: string; decidedAt: string });
    assert.deepEqual(parsed.map((p) => p.partSeq), Array.from({ length: count }, (_, i) => base + i + 1), `${policy}: none missing, none out of order`);
    // Each variable's notification for a part carries that part's decision time: pair them by it.
    // A value equal to the previous part's (two passes in a row) is not reported again (OPC UA's
    // default data-change trigger), so the value in force is the last one reported up to then.
    const inForce = (node: string, at: number) => m.received.filter((n) => n.node.endsWith(`.${node}`) && n.sourceTimestamp && n.sourceTimestamp.getTime() <= at).at(-1)?.value;
    for (const p of parsed) {
      const at = new Date(p.decidedAt).getTime();
      const same = m.received.filter((n) => n.sourceTimestamp?.getTime() === at);
      const byNode = Object.fromEntries(same.map((n) => [n.node.split('.').pop(), n.value]));
      assert.equal(byNode.PartId, p.partId, 'PartId of the same part');
      assert.equal(byNode.Sequence, p.sequence, 'Sequence of the same part');
      assert.equal(inForce('LastVerdict', at), ['pass', 'fail', 'uncertain', 'timeout', 'error'].indexOf(p.verdict));
    }
    await m.subscription.terminate();
    await session.close();
  }
});

test('a read of every variable in one request is one part', async (t) => {
  const { publisher, pki } = await startServer(t, tempDir(t));
  const { session } = await connect(t, { endpoint: publisher.endpointUrl, trustIn: pki, user: plc });
  let stop = false;
  let seq = 0;
  const writer = (async () => {
    while (!stop) {
      publisher.publish(makeVerdict({ seq: ++seq, line, kind: seq % 2 ? 'pass' : 'fail' }));
      await new Promise((r) => setImmediate(r));
    }
  })();
  const nodes = ['Sequence', 'PartId', 'PartSeq', 'LastVerdictText', 'Snapshot', 'LastPart', 'Sequence'].map((n) => ({ nodeId: nodeIdOf(line, 'cam1', n), attributeId: 13 }));
  let checked = 0;
  for (let i = 0; i < 100; i++) {
    const values = await session.read(nodes);
    const [s1, partId, partSeq, text, snap, part, s2] = values.map((v) => v.value.value);
    if (s1 === null) continue;
    assert.equal(s1, s2);
    const j = JSON.parse(snap as string);
    assert.deepEqual([j.sequence, j.partId, j.partSeq, j.verdict], [s1, partId, partSeq, text]);
    // The structure, decoded by a client that learnt the type from the server: the same part.
    const p = part as { sequence: number; partId: string; partSeq: number; verdictText: string; reject: boolean; action: string };
    assert.deepEqual([p.sequence, p.partId, p.partSeq, p.verdictText, p.reject], [s1, partId, partSeq, text, p.action === 'reject']);
    checked++;
  }
  assert.ok(checked > 90, `${checked} reads with a part`);
  stop = true;
  await writer;
  assert.ok(seq > 100, `parts kept coming during the reads (${seq})`);
});

test('untrusted certificate, wrong password, unknown user and anonymous are refused and counted', async (t) => {
  const { publisher, pki } = await startServer(t, tempDir(t));
  // Not copied into trusted/: refused at the secure channel, and the certificate lands in rejected/.
  const clientPki = tempDir(t, 'opcua-client-pki-');
  await assert.rejects(connect(t, { endpoint: publisher.endpointUrl, user: plc, pki: clientPki }));
  assert.ok(publisher.stats().refusedCertificates >= 1, `certificate refusal counted (${JSON.stringify(publisher.stats())})`);
  const rejected = readdirSync(join(pki, 'rejected'));
  assert.equal(rejected.length, 1, 'the refused certificate is in rejected/ for an engineer to trust');
  // The engineer's step: move it to trusted/certs; the running server accepts it, no restart.
  renameSync(join(pki, 'rejected', rejected[0]!), join(pki, 'trusted', 'certs', rejected[0]!));
  await until('the moved certificate is trusted', async () => {
    try {
      const { session } = await connect(t, { endpoint: publisher.endpointUrl, user: plc, pki: clientPki });
      await session.close();
      return true;
    } catch {
      return false;
    }
  }, 20_000);

  const { client } = await makeClient(t, { endpoint: publisher.endpointUrl, trustIn: pki });
  await client.connect(publisher.endpointUrl);
  await assert.rejects(client.createSession(identity({ username: 'plc', password: 'wrong' })), /BadUserAccessDenied|BadIdentityTokenRejected/);
  await assert.rejects(client.createSession(identity({ username: 'nobody', password: 'x' })), /BadUserAccessDenied|BadIdentityTokenRejected/);
  const s = publisher.stats();
  assert.equal(s.refusedLogins, 2, JSON.stringify(s));
  // Anonymous is not even offered: no endpoint lists an anonymous token policy, so a client cannot ask.
  const endpoints = await client.getEndpoints();
  assert.ok(endpoints.length > 0 && endpoints.every((e) => e.userIdentityTokens!.every((p) => p.tokenType !== UserTokenType.Anonymous)));
  await assert.rejects(client.createSession(identity('anonymous')), /ANONYMOUS/);
  const ok = await client.createSession(identity(plc));
  await ok.close();
  assert.equal(publisher.stats().refusedLogins, 2);
});

test('security None is not offered unless configured', async (t) => {
  const { publisher, pki } = await startServer(t, tempDir(t));
  await assert.rejects(connect(t, { endpoint: publisher.endpointUrl, trustIn: pki, user: plc, policy: SecurityPolicy.None, mode: MessageSecurityMode.None }));
  const insecure = await startServer(t, tempDir(t), { allowInsecure: true });
  const { session } = await connect(t, { endpoint: insecure.publisher.endpointUrl, trustIn: insecure.pki, user: plc, policy: SecurityPolicy.None, mode: MessageSecurityMode.None });
  await session.close();
});

async function browseIds(session: ClientSession, node = `ns=1;s=${line}.cam1`): Promise<string[]> {
  const r = await session.browse(node);
  return r.references!.map((ref) => ref.nodeId.toString()).sort();
}

/** Every node id under the station's alarm condition, depth first (its states, properties, methods). */
async function alarmTree(session: ClientSession): Promise<string[]> {
  const out: string[] = [];
  const walk = async (node: string) => {
    const r = await session.browse({ nodeId: node, referenceTypeId: 'HierarchicalReferences', includeSubtypes: true, browseDirection: BrowseDirection.Forward });
    for (const ref of r.references ?? []) {
      const id = ref.nodeId.toString();
      if (!id.startsWith('ns=1;') || out.includes(id)) continue;
      out.push(id);
      await walk(id);
    }
  };
  await walk(nodeIdOf(line, 'cam1', 'Alarm'));
  return out.sort();
}

test('node ids are the documented strings, the same after a restart', async (t) => {
  const state = tempDir(t);
  const first = await startServer(t, state);
  const clientPki = tempDir(t, 'opcua-client-pki-');
  const a = await connect(t, { endpoint: first.publisher.endpointUrl, trustIn: first.pki, user: plc, pki: clientPki });
  const before = await browseIds(a.session);
  const expected = [...stationVariables, 'AcknowledgeAlarm', 'TriggerPart', 'Alarm', 'LastPart'].map((n) => nodeIdOf(line, 'cam1', n)).sort();
  assert.deepEqual(before, expected);
  // The alarm condition's own nodes (ActiveState, AckedState, Acknowledge, ...) are strings made from its id too.
  const alarmBefore = await alarmTree(a.session);
  assert.ok(alarmBefore.length > 10 && alarmBefore.every((id) => id.startsWith(`${nodeIdOf(line, 'cam1', 'Alarm')}`)), alarmBefore.join(' '));
  await a.session.close();
  await first.publisher.stop(0);
  const second = await startServer(t, state);
  // The same client certificate stays trusted: the server's PKI folder survived the restart.
  const b = await connect(t, { endpoint: second.publisher.endpointUrl, user: plc, pki: clientPki });
  assert.deepEqual(await browseIds(b.session), before);
  assert.deepEqual(await alarmTree(b.session), alarmBefore);
});

test('methods need their right: a reader is refused (counted), an operator acknowledges and triggers', async (t) => {
  const { publisher, pki, bus, triggered } = await startServer(t, tempDir(t));
  const reader = await connect(t, { endpoint: publisher.endpointUrl, trustIn: pki, user: plc });
  const call = (session: ClientSession, method: string, inputArguments: Array<{ dataType: DataType; value: unknown }> = []) =>
    session.call({ objectId: `ns=1;s=${line}.cam1`, methodId: nodeIdOf(line, 'cam1', method), inputArguments });
  // A timeout verdict raises the station's alarm.
  publisher.publish(makeVerdict({ seq: 1, line, kind: 'timeout' }));
  const read = async (s: ClientSession, n: string) => (await s.read({ nodeId: nodeIdOf(line, 'cam1', n), attributeId: 13 })).value.value;
  assert.equal(await read(reader.session, 'AlarmActive'), true);
  assert.equal((await call(reader.session, 'AcknowledgeAlarm')).statusCode, StatusCodes.BadUserAccessDenied);
  assert.equal((await call(reader.session, 'TriggerPart', [{ dataType: DataType.String, value: 'P-1' }])).statusCode, StatusCodes.BadUserAccessDenied);
  assert.equal(publisher.stats().refusedCalls, 2);
  assert.deepEqual(triggered, []);
  const op = await connect(t, { endpoint: publisher.endpointUrl, user: { username: 'operator', password: 'op-secret' }, pki: undefined, trustIn: pki });
  assert.equal((await call(op.session, 'AcknowledgeAlarm')).statusCode, StatusCodes.Good);
  assert.equal(await read(op.session, 'AlarmActive'), false, 'acknowledged and its cause (one timeout) gone');
  const r = await call(op.session, 'TriggerPart', [{ dataType: DataType.String, value: 'P-1' }]);
  assert.equal(r.statusCode, StatusCodes.Good);
  assert.deepEqual(r.outputArguments!.map((v) => v.value), ['P-1', 7]);
  assert.deepEqual(triggered, ['P-1']);
  // A camera down keeps the alarm active after acknowledgement, until it runs again.
  bus.emit('camera-state', { camera: 'cam1', running: false, detail: 'stalled' });
  await call(op.session, 'AcknowledgeAlarm');
  assert.deepEqual([await read(op.session, 'AlarmActive'), await read(op.session, 'AlarmAcknowledged')], [true, true]);
  assert.equal((await op.session.read({ nodeId: `ns=1;s=${line}.State`, attributeId: 13 })).value.value, 'degraded');
  bus.emit('camera-state', { camera: 'cam1', running: true, detail: 'streaming' });
  assert.equal(await read(op.session, 'AlarmActive'), false);
  assert.equal((await op.session.read({ nodeId: `ns=1;s=${line}.State`, attributeId: 13 })).value.value, 'running');
});

test('the station alarm is an AlarmConditionType: its events reach the station, the line and the Server; the standard Acknowledge needs the right', async (t) => {
  const { publisher, pki, bus } = await startServer(t, tempDir(t));
  const alarm = nodeIdOf(line, 'cam1', 'Alarm');
  const reader = await connect(t, { endpoint: publisher.endpointUrl, trustIn: pki, user: plc });
  const typeOf = await reader.session.browse({ nodeId: alarm, referenceTypeId: 'HasTypeDefinition', browseDirection: BrowseDirection.Forward });
  assert.equal(typeOf.references![0]!.nodeId.value, ObjectTypeIds.AlarmConditionType);

  const fields = ['EventId', 'ConditionId', 'SourceNode', 'Message', 'Severity', 'Retain', 'ActiveState.Id', 'AckedState.Id'];
  const station = `ns=1;s=${line}.cam1`;
  const notifiers = [station, `ns=1;s=${line}`, 'i=2253'];
  const events = await monitorEvents(reader.session, notifiers, fields);
  const ofAlarm = (notifier: string) => events.received.filter((e) => e.notifier === notifier && String(e.fields.ConditionId) === alarm).map((e) => e.fields);
  const state = (f: Record<string, unknown>) => ({ active: f['ActiveState.Id'], acked: f['AckedState.Id'], retain: f.Retain });

  // A timeout verdict raises it: one event at each level, naming the station as its source.
  publisher.publish(makeVerdict({ seq: 1, line, kind: 'timeout' }));
  await until('the alarm event at every level', () => notifiers.every((n) => ofAlarm(n).length >= 1));
  for (const n of notifiers) {
    const [raised] = ofAlarm(n);
    assert.deepEqual(state(raised!), { active: true, acked: false, retain: true }, n);
    assert.equal(String(raised!.SourceNode), station);
    assert.match((raised!.Message as { text: string }).text, /timeout on part SN-1/);
    assert.ok((raised!.Severity as number) >= 500);
  }
  const eventId = ofAlarm(station).at(-1)!.EventId as Buffer;

  // A reader may see it but not acknowledge it, through the type's method id (how generic alarm
  // clients call it) or the instance's; nobody may disable it.
  const acknowledge = (s: ClientSession, methodId: string, id: Buffer = eventId) =>
    s.call({ objectId: alarm, methodId, inputArguments: [{ dataType: DataType.ByteString, value: id }, { dataType: DataType.LocalizedText, value: { text: 'seen' } }] });
  const typeAck = `i=${MethodIds.AcknowledgeableConditionType_Acknowledge}`;
  assert.equal((await acknowledge(reader.session, typeAck)).statusCode, StatusCodes.BadUserAccessDenied);
  assert.equal((await acknowledge(reader.session, `${alarm}-Acknowledge`)).statusCode, StatusCodes.BadUserAccessDenied);
  const op = await connect(t, { endpoint: publisher.endpointUrl, trustIn: pki, user: { username: 'operator', password: 'op-secret' } });
  assert.equal((await op.session.call({ objectId: alarm, methodId: `i=${MethodIds.ConditionType_Disable}`, inputArguments: [] })).statusCode, StatusCodes.BadUserAccessDenied);
  assert.equal(publisher.stats().refusedCalls, 3);
  const read = async (n: string) => (await op.session.read({ nodeId: nodeIdOf(line, 'cam1', n), attributeId: 13 })).value.value;
  assert.equal(await read('AlarmActive'), true);

  // A client that connects late asks for the current conditions (ConditionRefresh) and gets the active one.
  const late = await monitorEvents(op.session, [station], fields);
  const refresh = await op.session.call({ objectId: `i=${ObjectTypeIds.ConditionType}`, methodId: `i=${MethodIds.ConditionType_ConditionRefresh}`, inputArguments: [{ dataType: DataType.UInt32, value: late.subscription.subscriptionId }] });
  assert.equal(refresh.statusCode, StatusCodes.Good);
  await until('the refreshed condition', () => late.received.some((e) => String(e.fields.ConditionId) === alarm && e.fields['ActiveState.Id'] === true));

  // The operator acknowledges with the standard method; an unknown EventId is refused as the standard says.
  assert.equal((await acknowledge(op.session, typeAck, Buffer.alloc(16))).statusCode, StatusCodes.BadEventIdUnknown);
  const before = ofAlarm(station).length;
  assert.equal((await acknowledge(op.session, typeAck)).statusCode, StatusCodes.Good);
  // Acknowledged, and its cause (one timeout) is gone: it clears, and the clients are told both.
  await until('acknowledged and cleared', () => ofAlarm(station).slice(before).some((f) => f['ActiveState.Id'] === false));
  assert.deepEqual(ofAlarm(station).slice(before).map(state), [{ active: true, acked: true, retain: false }, { active: false, acked: true, retain: false }]);
  assert.deepEqual([await read('AlarmActive'), await read('AlarmAcknowledged')], [false, true]);

  // A camera down raises it again; acknowledged (here by the station's AcknowledgeAlarm method) it
  // stays active and retained while the camera is down, and clears when it runs again.
  bus.emit('camera-state', { camera: 'cam1', running: false, detail: 'stalled' });
  await until('raised by the camera', () => ofAlarm(station).at(-1)!['ActiveState.Id'] === true);
  assert.match((ofAlarm(station).at(-1)!.Message as { text: string }).text, /camera not running: stopped: stalled/);
  assert.equal((await op.session.call({ objectId: station, methodId: nodeIdOf(line, 'cam1', 'AcknowledgeAlarm'), inputArguments: [] })).statusCode, StatusCodes.Good);
  await until('acknowledged, still active', () => ofAlarm(station).at(-1)!['AckedState.Id'] === true);
  assert.deepEqual(state(ofAlarm(station).at(-1)!), { active: true, acked: true, retain: true });
  bus.emit('camera-state', { camera: 'cam1', running: true, detail: 'streaming' });
  await until('cleared', () => ofAlarm(station).at(-1)!['ActiveState.Id'] === false);
  assert.deepEqual(state(ofAlarm(station).at(-1)!), { active: false, acked: true, retain: false });
  // Every level saw the same story.
  await until('the line and the Server caught up', () => notifiers.every((n) => ofAlarm(n).length === ofAlarm(station).length));
  for (const n of notifiers) assert.deepEqual(ofAlarm(n).map(state), ofAlarm(station).map(state), n);
});

test('LastPart is a structure a generic client reads without a type dictionary: PartSnapshotDataType with its definition', async (t) => {
  const { publisher, pki } = await startServer(t, tempDir(t));
  const { session } = await connect(t, { endpoint: publisher.endpointUrl, trustIn: pki, user: plc });
  const def = await session.read({ nodeId: 'ns=1;s=PartSnapshotDataType', attributeId: AttributeIds.DataTypeDefinition });
  assert.deepEqual((def.value.value as { fields: Array<{ name: string }> }).fields.map((f) => f.name), partSnapshotFieldNames);
  const v = makeVerdict({ seq: 41, line, kind: 'fail' });
  publisher.publish(v);
  const dv = await session.read({ nodeId: nodeIdOf(line, 'cam1', 'LastPart'), attributeId: AttributeIds.Value });
  assert.equal(dv.value.dataType, DataType.ExtensionObject);
  const p = dv.value.value as Record<string, unknown>;
  assert.deepEqual(
    { sequence: p.sequence, partId: p.partId, partSeq: p.partSeq, verdict: p.verdict, verdictText: p.verdictText, action: p.action, reject: p.reject, decidedAt: (p.decidedAt as Date).toISOString() },
    { sequence: 1, partId: v.partId, partSeq: 41, verdict: 1, verdictText: 'fail', action: v.action, reject: v.action === 'reject', decidedAt: v.decidedAt },
  );
  assert.equal(dv.sourceTimestamp?.toISOString(), v.decidedAt, 'the decision time, as every per-part variable');
});
