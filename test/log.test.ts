import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { test } from 'node:test';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { LinesightError } from '../src/errors.js';
import { chooseFormat, createLogger, type LogFormat } from '../src/log.js';
import { redactText } from '../src/redact.js';
import { freePort } from './helpers/env.js';

function capture(format: LogFormat = 'json', level: 'trace' | 'info' | 'warn' | 'error' = 'info') {
  const lines: string[] = [];
  const log = createLogger({ level, format, write: (line) => lines.push(line) });
  return { log, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const secrets = ['secret-pw', 'hunter2', 'tok-123', 'abc987', 'deep-tok', 'Bearer s3cr3t', 'cookie-val'];

function assertNoSecret(text: string): void {
  for (const s of secrets) assert.ok(!text.includes(s), `"${s}" leaked in:\n${text}`);
}

test('JSON format: one JSON object per line, with level name, time, message and fields', () => {
  const { log, lines, records } = capture('json');
  log.info({ camera: 'cam1' }, 'camera started');
  log.child({ component: 'api' }).warn('slow');
  assert.equal(lines.length, 2);
  assert.ok(lines.every((l) => !l.includes('\n')));
  const [a, b] = records();
  assert.equal(a!.level, 'info');
  assert.equal(a!.msg, 'camera started');
  assert.equal(a!.camera, 'cam1');
  assert.ok(!Number.isNaN(Date.parse(String(a!.time))));
  assert.equal(b!.component, 'api');
  assert.equal(b!.level, 'warn');
});

test('secrets never reach the log: URL credentials, secret fields at any depth, tokens in query strings', () => {
  for (const format of ['json', 'pretty'] as const) {
    const { log, lines } = capture(format);
    log.info({ url: 'mqtt://user:secret-pw@broker:1883' }, 'connecting');
    log.info({ password: 'hunter2', token: 'tok-123' }, 'credentials set');
    log.info({ mqtt: { auth: { password: 'hunter2', nested: { apiToken: 'deep-tok' } } } }, 'config');
    log.warn('broker mqtts://admin:hunter2@10.0.0.9:8883 refused; retrying https://cam/stream?access_token=abc987&fps=5');
    log.info({ headers: { authorization: 'Bearer s3cr3t', cookie: 'cookie-val' } }, 'headers');
    log.info({ camera: { url: 'rtsp://viewer:secret-pw@cam1/stream', headers: { Authorization: 'Bearer s3cr3t' } } }, 'camera');
    // A secret that is not a string (an object, a number) is caught by its top-level name.
    log.info({ credentials: { user: 'svc', pin: 'hunter2' }, secret: 123987 }, 'structured secret');
    const text = lines.join('\n');
    assertNoSecret(text);
    assert.ok(!text.includes('123987'), text);
    // What is left still says what happened.
    assert.match(text, /mqtt:\/\/user:\[redacted\]@broker:1883/);
    assert.match(text, /mqtts:\/\/admin:\[redacted\]@10\.0\.0\.9:8883/);
    assert.match(text, /access_token=\[redacted\]&fps=5/);
    assert.equal(lines.length, 7, `${format}: one line per record`);
  }
});

test('an error logged under err keeps message and code; only an unexpected error carries its stack', async () => {
  const { log, records } = capture('json');
  log.error({ err: new LinesightError('LS_ERR_CONFIG_PARSE', 'line 2, column 1: a tab', { args: ['x.yaml'] }) }, 'config refused');
  const unexpected = Object.assign(new Error('connect ECONNREFUSED mqtt://u:secret-pw@h:1883'), { code: 'ECONNREFUSED' });
  log.error({ err: unexpected }, 'broker failed');
  log.error(unexpected);
  const closedPort = await freePort();
  const refused = await new Promise<Error>((resolve) => createConnection({ host: '127.0.0.1', port: closedPort }).once('error', resolve));
  log.warn({ err: refused }, 'broker unreachable');
  const [known, bug, bare, system] = records() as Array<{ err: Record<string, unknown>; msg: string }>;
  assert.equal(system!.err.code, 'ECONNREFUSED');
  assert.equal(system!.err.stack, undefined, 'a system call error is an expected condition');
  assert.equal(known!.err.code, 'LS_ERR_CONFIG_PARSE');
  assert.match(String(known!.err.message), /x\.yaml.*a tab/);
  assert.equal(known!.err.stack, undefined);
  assert.equal(bug!.err.code, 'ECONNREFUSED');
  assert.match(String(bug!.err.stack), /^Error: connect ECONNREFUSED/);
  assert.match(String(bare!.err.message), /ECONNREFUSED/);
  assertNoSecret(JSON.stringify(records()));
});

test("fastify logs through the same logger: its request records and a route's headers are redacted", async () => {
  const { log, lines, records } = capture('json', 'info');
  const app = Fastify({ loggerInstance: log as FastifyBaseLogger });
  app.get('/frames', async (req) => {
    req.log.warn({ req: { headers: req.headers } }, 'logged the request headers');
    req.log.warn({ headers: req.headers }, 'logged the headers');
    return { ok: true };
  });
  const res = await app.inject({ method: 'GET', url: '/frames?access_token=abc987', headers: { authorization: 'Bearer s3cr3t', cookie: 'session=cookie-val' } });
  await app.close();
  assert.equal(res.statusCode, 200);
  const recs = records();
  // fastify's own "incoming request" record went through this logger, with the query token hidden.
  assert.ok(recs.some((r) => r.msg === 'incoming request' && /access_token=\[redacted\]/.test(JSON.stringify(r.req))), lines.join('\n'));
  assert.ok(recs.some((r) => r.msg === 'logged the headers'));
  assertNoSecret(lines.join('\n'));
});

test('a child logger may be quieter than its parent, never louder', () => {
  const { log, lines } = capture('json', 'error');
  const api = log.child({ component: 'api' }, { level: 'warn' });
  api.warn('not shown: the config asked for errors only');
  api.error('shown');
  const quiet = capture('json', 'info');
  const child = quiet.log.child({ component: 'api' }, { level: 'warn' });
  child.info('not shown: the child asked for warn');
  child.warn('shown too');
  assert.deepEqual([...lines, ...quiet.lines].map((l) => JSON.parse(l).msg), ['shown', 'shown too']);
});

test('pretty format: one readable line per record, error included', () => {
  const { log, lines } = capture('pretty');
  log.info({ camera: 'cam1' }, 'camera started');
  log.error({ err: new Error('boom') }, 'failed');
  assert.equal(lines.length, 2);
  assert.ok(lines.every((l) => !l.includes('\n')), lines.join('\n'));
  assert.match(lines[0]!, /INFO.*camera started.*"camera":"cam1"/);
  assert.match(lines[1]!, /ERROR.*failed.*boom/);
  assert.throws(() => JSON.parse(lines[0]!));
});

test('auto picks pretty for a terminal and JSON lines for everything else', () => {
  assert.equal(chooseFormat('auto', true), 'pretty');
  assert.equal(chooseFormat('auto', false), 'json');
  assert.equal(chooseFormat('json', true), 'json');
  assert.equal(chooseFormat('pretty', false), 'pretty');
  // A test's write function is not a terminal: auto gives JSON.
  const lines: string[] = [];
  createLogger({ write: (l) => lines.push(l) }).info('x');
  assert.equal(JSON.parse(lines[0]!).msg, 'x');
});

test('redactText: credentials in URLs and secret query parameters, nothing else', () => {
  assert.equal(redactText('mqtt://u:p4ss@h:1883/x'), 'mqtt://u:[redacted]@h:1883/x');
  assert.equal(redactText('see rtsp://:only-pw@cam/1 and http://host/a?token=t1&b=2'), 'see rtsp://:[redacted]@cam/1 and http://host/a?token=[redacted]&b=2');
  assert.equal(redactText('mqtt://broker:1883 user@host a:b@c'), 'mqtt://broker:1883 user@host a:b@c');
  assert.equal(redactText('/x?password=pw&user=me'), '/x?password=[redacted]&user=me');
});
