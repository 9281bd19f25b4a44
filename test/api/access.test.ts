// api.protectReads: every route but the probes needs the token; what browsers load without
// headers (the dashboard, its event stream and images) takes it as ?access_token= as well.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import { isLinesightError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { samplesDir, tempDir } from '../helpers/env.js';

const token = 'access-test-token-0123456789';

function appWith(t: Parameters<typeof tempDir>[0], api: Record<string, unknown>) {
  const config = buildConfig(
    {
      stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation' }],
      state: { directory: tempDir(t) },
      mqtt: { embedded: { port: 0 } },
      api: { port: 0, ...api },
      summary: { intervalMs: 0 },
    },
    { origin: 'test', baseDir: '/' },
  );
  const app = new App(config, { log: silentLogger });
  t.after(() => app.stop());
  return app;
}

const reads = ['/metrics', '/openapi.json', '/stations', '/stations/cam1', '/models', '/dashboard', '/events', '/stations/cam1/image', '/evidence', '/verdicts', '/stations/cam1/shadow', '/stations/cam1/shadow/disagreements'];
const inQuery = new Set(['/dashboard', '/events', '/stations/cam1/image', '/evidence']);

async function status(url: string, headers: Record<string, string> = {}): Promise<{ status: number; error?: string }> {
  const ac = new AbortController();
  const r = await fetch(url, { headers, signal: ac.signal, redirect: 'manual' });
  const type = r.headers.get('content-type') ?? '';
  const error = type.startsWith('application/json') && r.status >= 400 ? ((await r.json()) as { error: string }).error : undefined;
  ac.abort(); // /events never ends
  return { status: r.status, ...(error ? { error } : {}) };
}

test('with api.protectReads every read route needs the token (header, or ?access_token= where a browser needs it)', async (t) => {
  const app = appWith(t, { token, protectReads: true });
  await app.start();
  await new Promise<void>((resolve) => {
    const off = app.bus.on('verdict', () => (off(), resolve()));
  });
  const base = app.apiUrl;
  for (const path of reads) {
    assert.deepEqual(await status(`${base}${path}`), { status: 401, error: 'LS_ERR_UNAUTHORIZED' }, `${path} without a token`);
    assert.deepEqual(await status(`${base}${path}`, { authorization: 'Bearer wrong-token-0123456789abcd' }), { status: 401, error: 'LS_ERR_UNAUTHORIZED' }, `${path} with a wrong token`);
    assert.equal((await status(`${base}${path}`, { authorization: `Bearer ${token}` })).status, 200, `${path} with the header`);
    const sep = path.includes('?') ? '&' : '?';
    assert.equal((await status(`${base}${path}${sep}access_token=${token}`)).status, inQuery.has(path) ? 200 : 401, `${path} with ?access_token=`);
  }
  // The probes stay open; the root redirect keeps the token for the dashboard.
  assert.equal((await status(`${base}/healthz`)).status, 200);
  assert.notEqual((await status(`${base}/readyz`)).status, 401);
  const root = await fetch(`${base}/?access_token=${token}`, { redirect: 'manual' });
  assert.equal(root.headers.get('location'), `/dashboard?access_token=${token}`);
  // The page passes the token on to the stream and the images.
  const page = await (await fetch(`${base}/dashboard?access_token=${token}`)).text();
  assert.match(page, /new EventSource\(withToken\('\/events'\)\)/);
});

test('without protectReads reads are open and mutating routes still need the token; protectReads without a token does not start', async (t) => {
  const app = appWith(t, { token });
  await app.start();
  for (const path of ['/metrics', '/stations', '/models', '/dashboard']) assert.equal((await status(`${app.apiUrl}${path}`)).status, 200, path);
  const trigger = await fetch(`${app.apiUrl}/stations/cam1/trigger?access_token=${token}`, { method: 'POST' });
  assert.equal(trigger.status, 401, 'a query token is not accepted on mutating routes');

  const bad = appWith(t, { protectReads: true });
  await assert.rejects(bad.start(), (e: unknown) => isLinesightError(e, 'LS_ERR_CONFIG_INVALID') && /api\.protectReads needs api\.token/.test(e.message));
});
