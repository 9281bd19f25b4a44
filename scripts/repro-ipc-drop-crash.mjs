// Known problem, reproduced with aws-iot-device-sdk-v2 alone (no Linesight code): the Greengrass
// nucleus (here the fake, test/helpers/fake-nucleus-ipc.ts; npm run build first) drops the IPC
// connection while PublishToIoTCore operations wait for answers; aws-crt 1.33.1 (and 1.33.2)
// then corrupts the heap in aws_napi_event_stream_client_stream_close and the process aborts or
// hangs within a few rounds. Modes: idle (nothing in flight: survives), inflight (crashes),
// clientclose (the client closes with publishes in flight: survives).
// Usage: node scripts/repro-ipc-drop-crash.mjs inflight 40
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
const require = createRequire(new URL('../package.json', import.meta.url));
const sdk = require('aws-iot-device-sdk-v2');
const { FakeNucleusIpc } = await import(new URL('../dist/test/helpers/fake-nucleus-ipc.js', import.meta.url).href);
const mode = process.argv[2] ?? 'inflight';
const rounds = Number(process.argv[3] ?? 30);
for (let r = 0; r < rounds; r++) {
  const socketPath = join(mkdtempSync(join(tmpdir(), 'sd-')), 's');
  const n = new FakeNucleusIpc({ socketPath, authToken: 't', policies: [{ operations: ['*'], resources: ['#'] }] });
  await n.start();
  const client = sdk.greengrasscoreipc.createClient({ hostName: socketPath, port: 0, socketOptions: new sdk.io.SocketOptions(sdk.io.SocketType.STREAM, sdk.io.SocketDomain.LOCAL, 2000), connectTransform: async ({ message }) => ({ ...message, payload: JSON.stringify({ authToken: 't' }) }) });
  const gone = new Promise((r) => client.on('disconnection', r));
  await client.connect();
  const pending = [];
  for (let i = 0; i < 20; i++) pending.push(client.publishToIoTCore({ topicName: 'a/b', qos: '1', payload: Buffer.from('x') }).then(() => 'ok', (e) => 'err'));
  if (mode === 'inflight') { await n.waitFor(5); await n.stop(); await gone; }
  else if (mode === 'idle') { await Promise.all(pending); await n.stop(); await gone; }
  else if (mode === 'clientclose') { await n.waitFor(5); await client.close(); await n.stop(); }
  await new Promise((r) => setTimeout(r, 20));
}
console.log('ok', mode, rounds);
