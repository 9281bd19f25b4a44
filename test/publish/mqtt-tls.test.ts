// The verdict publisher and the MQTT trigger over TLS to a real Mosquitto that requires client
// certificates (mqtt.tls: ca, cert, key), and a clear start-up error for unusable TLS files.
import { codeOf } from '../helpers/error-of.js';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { MqttTrigger } from '../../src/capture/mqtt-trigger.js';
import type { TriggerEvent } from '../../src/capture/trigger.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { LocalMqttPublisher } from '../../src/publish/local-mqtt.js';
import { clientTlsOptions } from '../../src/publish/mqtt-tls.js';
import type { Verdict } from '../../src/verdict.js';
import { tempDir } from '../helpers/env.js';
import { makeCerts, startMosquitto, subscribe } from '../helpers/brokers.js';
import { recorder } from '../helpers/recorder.js';

test('publisher and trigger over TLS with a client certificate; a broker that does not verify is refused', async (t) => {
  const certs = makeCerts(t);
  const broker = await startMosquitto(t, { tls: certs });
  const tls = clientTlsOptions({ ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, rejectUnauthorized: true });
  const plc = await subscribe(t, broker.url, 'linesight/v1/L8/cam1/verdict');

  const publisher = new LocalMqttPublisher({ url: broker.tlsUrl!, tls, line: 'L8', cameras: ['cam1'], topicPrefix: 'linesight/v1', clientIdPrefix: 'ls', bus: new EventBus(silentLogger), log: silentLogger });
  await publisher.start();
  t.after(() => publisher.stop(0));
  assert.equal(publisher.health().connected, true);
  publisher.publish({ id: 'v1', camera: 'cam1', verdict: 'fail', seq: 1 } as Verdict);
  await plc.next((m) => m.payload.includes('"v1"'));

  const events = recorder<TriggerEvent>();
  const trigger = new MqttTrigger({ url: broker.tlsUrl!, tls, topic: 'linesight/v1/L8/cam1/trigger', clientId: 'ls-L8-cam1-trigger', log: silentLogger });
  await trigger.start(events.push);
  t.after(() => trigger.stop());
  assert.equal(trigger.health().ok, true);
  const gateway = await mqtt.connectAsync(broker.url);
  t.after(() => gateway.endAsync(true));
  await gateway.publishAsync('linesight/v1/L8/cam1/trigger', 'SN-1', { qos: 1 });
  await events.until(() => events.items.length === 1, 'the trigger over TLS');
  assert.equal(events.items[0]!.partId, 'SN-1');

  // Trusting another CA: the handshake fails, nothing connects.
  const wrong = new LocalMqttPublisher({
    url: broker.tlsUrl!,
    tls: clientTlsOptions({ ca: certs.otherCa, cert: certs.clientCert, key: certs.clientKey, rejectUnauthorized: true }),
    line: 'L8', cameras: ['cam1'], topicPrefix: 'linesight/v1', clientIdPrefix: 'ls-wrong', bus: new EventBus(silentLogger), log: silentLogger, connectWaitMs: 1500,
  });
  await wrong.start();
  t.after(() => wrong.stop(0));
  assert.equal(wrong.health().connected, false);
  assert.match(wrong.health().lastError ?? '', /certificate|self.signed|verify/i);
});

test('unusable TLS files stop start-up with LS_ERR_MQTT_TLS naming the file', (t) => {
  const dir = tempDir(t);
  const notPem = join(dir, 'ca.txt');
  writeFileSync(notPem, 'hello');
  const code = codeOf;
  assert.match(code(() => clientTlsOptions({ ca: join(dir, 'missing.pem'), rejectUnauthorized: true })), /^LS_ERR_MQTT_TLS: .*missing\.pem: mqtt\.tls\.ca: no such file/);
  assert.match(code(() => clientTlsOptions({ ca: notPem, rejectUnauthorized: true })), /^LS_ERR_MQTT_TLS: .*ca\.txt: mqtt\.tls\.ca: not a PEM file/);
  assert.match(code(() => clientTlsOptions({ cert: notPem, rejectUnauthorized: true })), /cert and mqtt\.tls\.key go together/);
});
