// Real MQTT brokers for tests: Debian's mosquitto on a free loopback port, and an mqtt.js
// subscriber that records what arrives.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { freePort, tempDir } from './env.js';

/** PEM files of a throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate. */
export interface TestCerts {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second CA that signed nothing here: a client trusting only it must refuse the server. */
  otherCa: string;
}

/** Generates certificates with openssl into a temp dir (a few hundred ms). */
export function makeCerts(t: TestContext): TestCerts {
  const dir = tempDir(t, 'certs-');
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ca = (name: string) => ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.pem`), '-days', '2', '-subj', `/CN=${name}`);
  ca('test-ca');
  ca('other-ca');
  const leaf = (name: string, ext: string) => {
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
    writeFileSync(f(`${name}.ext`), ext);
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('test-ca.pem'), '-CAkey', f('test-ca.key'), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`));
  };
  leaf('server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'extendedKeyUsage=clientAuth\n');
  return { ca: f('test-ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key'), otherCa: f('other-ca.pem') };
}

/** Client certificates the broker must refuse: signed by another CA, and expired (signed by the right CA). */
export interface BadClientCerts {
  foreignCert: string;
  foreignKey: string;
  expiredCert: string;
  expiredKey: string;
}

/** openssl 3.0's `x509 -req` cannot date a certificate in the past; `openssl ca` with -startdate/-enddate can. */
export function makeBadClientCerts(t: TestContext, certs: TestCerts): BadClientCerts {
  const dir = tempDir(t, 'badcerts-');
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const key = (name: string) => ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  key('foreign');
  ssl('x509', '-req', '-in', f('foreign.csr'), '-CA', certs.otherCa, '-CAkey', certs.otherCa.replace(/\.pem$/, '.key'), '-CAcreateserial', '-out', f('foreign.pem'), '-days', '2', '-extfile', f('client.ext'));
  key('expired');
  writeFileSync(f('index.txt'), '');
  writeFileSync(f('serial'), '1000\n');
  writeFileSync(
    f('ca.cnf'),
    `[ca]\ndefault_ca = d\n[d]\ndatabase = ${f('index.txt')}\nnew_certs_dir = ${dir}\nserial = ${f('serial')}\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n[ext]\nextendedKeyUsage = clientAuth\n`,
  );
  ssl('ca', '-batch', '-config', f('ca.cnf'), '-extensions', 'ext', '-in', f('expired.csr'), '-out', f('expired.pem'), '-cert', certs.ca, '-keyfile', certs.ca.replace(/\.pem$/, '.key'), '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-notext');
  return { foreignCert: f('foreign.pem'), foreignKey: f('foreign.key'), expiredCert: f('expired.pem'), expiredKey: f('expired.key') };
}

export interface Mosquitto {
  url: string;
  /** mqtts:// URL of the TLS listener, when started with `tls`. */
  tlsUrl?: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

type TestContext = { after: (fn: () => void | Promise<void>) => void };

async function waitForPort(port: number, ms: number, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 500 });
      let connected = false;
      // Each attempt is bounded by our own timer too, so a helper waiting on a broker can never
      // wait forever on an event that does not come.
      const settle = () => {
        clearTimeout(timer);
        c.end(true);
        resolve(connected);
      };
      const timer = setTimeout(settle, 1500);
      c.once('connect', () => {
        connected = true;
        settle();
      });
      c.once('error', settle);
      c.once('close', settle);
    });
    if (ok) return;
    if (proc.exitCode !== null) throw new Error(`mosquitto exited with code ${proc.exitCode}`);
    if (Date.now() > deadline) throw new Error(`mosquitto did not come up on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `persistent`: sessions and queued messages survive a broker restart, like a production broker. */
/**
 * `acl`: mosquitto ACL lines for anonymous clients (e.g. `topic readwrite allowed/#`);
 * `maxPacketBytes`: larger packets get the client disconnected (MQTT 5: DISCONNECT 0x95);
 * `messageSizeLimit`: larger publishes are refused (MQTT 5: a PUBACK reason code).
 */
export async function startMosquitto(
  t: TestContext,
  options: { persistent?: boolean; tls?: TestCerts; acl?: string; maxPacketBytes?: number; messageSizeLimit?: number } = {},
): Promise<Mosquitto> {
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : 0;
  // A TLS listener that requires a client certificate signed by the test CA, beside the plain one.
  const tls = options.tls
    ? `listener ${tlsPort} 127.0.0.1\ncafile ${options.tls.ca}\ncertfile ${options.tls.serverCert}\nkeyfile ${options.tls.serverKey}\nrequire_certificate true\n`
    : '';
  const dir = tempDir(t, 'mosquitto-');
  const conf = join(dir, 'mosquitto.conf');
  // A persistent broker stands for a production one that keeps what an absent subscriber missed:
  // mosquitto's default keeps only 1000 queued messages per client, so a PLC gateway that
  // reconnects a moment after the publisher would lose the rest of a drained backlog.
  const persistence = options.persistent ? `persistence true\npersistence_location ${dir}/\nmax_queued_messages 100000\n` : 'persistence false\n';
  // Started as root, mosquitto switches to its own user, which cannot write the database into
  // our private temp dir: it would silently keep nothing across a restart.
  const user = process.getuid?.() === 0 ? 'user root\n' : '';
  let limits = '';
  if (options.acl !== undefined) {
    writeFileSync(join(dir, 'acl'), options.acl + '\n');
    limits += `acl_file ${join(dir, 'acl')}\n`;
  }
  if (options.maxPacketBytes) limits += `max_packet_size ${options.maxPacketBytes}\n`;
  if (options.messageSizeLimit) limits += `message_size_limit ${options.messageSizeLimit}\n`;
  writeFileSync(conf, `per_listener_settings false\nallow_anonymous true\n${user}${persistence}${limits}listener ${port} 127.0.0.1\n${tls}`);
  let proc: ChildProcess;
  const launch = async () => {
    proc = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
    // Even if the test run is cut short, no broker outlives it.
    const reap = () => proc.kill('SIGKILL');
    process.once('exit', reap);
    proc.once('exit', () => process.off('exit', reap));
    proc.once('error', (err) => {
      throw new Error(`cannot start mosquitto (install it: apt-get install mosquitto): ${err.message}`);
    });
    await waitForPort(port, 5000, proc);
  };
  await launch();
  const m: Mosquitto = {
    url: `mqtt://127.0.0.1:${port}`,
    ...(options.tls ? { tlsUrl: `mqtts://127.0.0.1:${tlsPort}` } : {}),
    port,
    get process() {
      return proc;
    },
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
      // A test of what survives a restart proves nothing if nothing was saved. (At the end of a
      // test the temp dir may already be gone, and nothing needs saving.)
      if (options.persistent && existsSync(dir) && !existsSync(join(dir, 'mosquitto.db'))) throw new Error(`mosquitto saved no database in ${dir}`);
    },
    async restart() {
      await m.stop();
      await launch();
    },
  };
  t.after(() => m.stop());
  return m;
}

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

export async function subscribe(
  t: TestContext,
  url: string,
  filter: string,
  options: { clientId?: string; connect?: IClientOptions } = {},
): Promise<{ client: MqttClient; messages: Received[]; next: (pred: (m: Received) => boolean, ms?: number) => Promise<Received> }> {
  // With a client id the session is persistent: the broker keeps QoS 1 messages while it is away.
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 200, ...(options.clientId ? { clientId: options.clientId, clean: false } : { clean: true }), ...options.connect });
  const messages: Received[] = [];
  const waiters: Array<{ pred: (m: Received) => boolean; resolve: (m: Received) => void }> = [];
  client.on('message', (topic, payload, packet) => {
    const m = { topic, payload: payload.toString(), retain: packet.retain };
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  await client.subscribeAsync(filter, { qos: 1 });
  t.after(() => client.endAsync(true));
  const next = (pred: (m: Received) => boolean, ms = 10_000) =>
    new Promise<Received>((resolve, reject) => {
      const found = messages.find(pred);
      if (found) return resolve(found);
      const timer = setTimeout(() => reject(new Error(`no matching MQTT message within ${ms} ms (got ${messages.length})`)), ms);
      waiters.push({ pred, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  return { client, messages, next };
}
