// Shadow trials over HTTP on a running box: token needed for changes, refusals with codes,
// described in OpenAPI, figures in /metrics, and a candidate that never changes a verdict.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TrialReport } from '../../src/shadow/trial.js';
import { startApp } from '../helpers/app.js';
import { samplesDir, tempDir, until } from '../helpers/env.js';
import { makeVersion } from '../helpers/model-versions.js';

const token = 'shadow-api-token-0123456789';

test('shadow trial routes: start (token), report, disagreements, metrics, OpenAPI, stop', async (t) => {
  const models = tempDir(t);
  makeVersion(models, '1.0.0');
  makeVersion(models, '1.1.0', (m) => (m.thresholds = { pass: 0.98, fail: 0.75 }));
  const app = await startApp(t, {
    stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation@1.0.0' }],
    models: { directory: models, watch: false, autoRollback: { parts: 0 } },
    evidence: { enabled: true, nearThresholdMargin: 0.3 },
    api: { port: 0, token },
  });
  const url = (p: string) => `${app.apiUrl}${p}`;
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const published: string[] = [];
  app.bus.on('verdict', (v) => published.push(`${v.model?.version}`));

  assert.deepEqual(await (await fetch(url('/stations/cam1/shadow'))).json(), { trial: null });
  const noToken = await fetch(url('/stations/cam1/shadow'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'label-orientation@1.1.0' }) });
  assert.equal(noToken.status, 401);
  const same = await fetch(url('/stations/cam1/shadow'), { method: 'POST', headers: auth, body: JSON.stringify({ model: 'label-orientation@1.0.0' }) });
  assert.equal(same.status, 409);
  assert.equal(((await same.json()) as { error: string }).error, 'LS_ERR_SHADOW_SAME');
  const missing = await fetch(url('/stations/cam1/shadow'), { method: 'POST', headers: auth, body: JSON.stringify({ model: 'label-orientation@9.9.9' }) });
  assert.equal(missing.status, 404);
  assert.equal((await fetch(url('/stations/nope/shadow'), { method: 'POST', headers: auth, body: JSON.stringify({ model: 'label-orientation@1.1.0' }) })).status, 404);
  assert.equal((await fetch(url('/stations/cam1/shadow'), { method: 'POST', headers: auth, body: JSON.stringify({ model: 'label-orientation@1.1.0', share: 2 }) })).status, 400);

  const started = await fetch(url('/stations/cam1/shadow'), { method: 'POST', headers: auth, body: JSON.stringify({ model: 'label-orientation@1.1.0' }) });
  assert.equal(started.status, 201);
  assert.equal(((await started.json()) as TrialReport).state, 'running');
  assert.equal((await fetch(url('/stations/cam1/shadow'), { method: 'POST', headers: auth, body: JSON.stringify({ model: 'label-orientation@1.1.0' }) })).status, 409, 'one trial per station');

  // Within a pass over the 24 samples the two parts the thresholds decide differently come by.
  await until('two disagreements', async () => {
    const r = ((await (await fetch(url('/stations/cam1/shadow'))).json()) as { trial: TrialReport }).trial;
    return r.disagreements >= 2;
  }, 30_000);
  const report = ((await (await fetch(url('/stations/cam1/shadow'))).json()) as { trial: TrialReport }).trial;
  assert.ok(report.parts >= 2 && report.agreement! < 1, JSON.stringify(report));
  const dis = (await (await fetch(url('/stations/cam1/shadow/disagreements'))).json()) as { items: Array<{ active: { verdict: string }; candidate: { verdict: string }; evidenceId: string | null }> };
  assert.ok(dis.items.length >= 2);
  for (const d of dis.items) assert.notEqual(d.active.verdict, d.candidate.verdict);
  // Near-threshold parts are kept as evidence, and the disagreeing ones are near a threshold.
  const withImage = dis.items.find((d) => d.evidenceId);
  assert.ok(withImage, 'a disagreement links its evidence image');
  assert.equal((await fetch(url(`/evidence/${encodeURIComponent(withImage.evidenceId!)}/image`))).status, 200);

  const metrics = await (await fetch(url('/metrics'))).text();
  assert.match(metrics, /linesight_shadow_agreement\{camera="cam1",active="label-orientation@1.0.0",candidate="label-orientation@1.1.0"\} 0\.\d+\n/);
  assert.match(metrics, /linesight_shadow_parts\{camera="cam1",active="label-orientation@1.0.0",candidate="label-orientation@1.1.0",active_verdict="pass",candidate_verdict="uncertain"\} [1-9]/);
  assert.match(metrics, /linesight_pool_spare_completed [1-9]/);

  const openapi = (await (await fetch(url('/openapi.json'))).json()) as { paths: Record<string, Record<string, unknown>> };
  for (const [path, method] of [['/stations/{id}/shadow', 'get'], ['/stations/{id}/shadow', 'post'], ['/stations/{id}/shadow', 'delete'], ['/stations/{id}/shadow/promote', 'post'], ['/stations/{id}/shadow/disagreements', 'get'], ['/verdicts', 'get']] as const) {
    assert.ok(openapi.paths[path]?.[method], `${method} ${path} in OpenAPI`);
  }

  assert.equal((await fetch(url('/stations/cam1/shadow'), { method: 'DELETE' })).status, 401);
  const stopped = await fetch(url('/stations/cam1/shadow'), { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  assert.equal(stopped.status, 200);
  assert.equal(((await stopped.json()) as TrialReport).state, 'stopped');
  assert.equal((await fetch(url('/stations/cam1/shadow/promote'), { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status, 404);
  // Every published verdict came from the active version.
  assert.ok(published.length >= report.parts);
  assert.deepEqual([...new Set(published)], ['1.0.0']);
  // The candidate left the workers.
  await until('candidate unloaded', () => app.pool.threadReport().every((th) => th.resident.length === 1), 10_000, () => app.pool.threadReport());

  // The feed: fails of the last minute, filtered.
  const since = new Date(Date.now() - 60_000).toISOString();
  const fails = (await (await fetch(url(`/verdicts?station=cam1&verdict=fail&since=${since}`))).json()) as { items: Array<{ verdict: string; camera: string }> };
  assert.ok(fails.items.length > 0 && fails.items.every((v) => v.verdict === 'fail' && v.camera === 'cam1'));
});

test('a station with `shadow` in its config starts its trial at start-up; a candidate that cannot load leaves the station serving', async (t) => {
  const models = tempDir(t);
  makeVersion(models, '1.0.0');
  makeVersion(models, '1.2.0');
  const app = await startApp(t, {
    stations: [
      { id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation@1.0.0', shadow: { model: 'label-orientation@1.2.0', share: 0.5 } },
      { id: 'cam2', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation@1.0.0', shadow: { model: 'label-orientation@7.0.0' } },
    ],
    models: { directory: models, watch: false },
  });
  const r = app.shadow.report('cam1')!;
  assert.equal(r.candidate, 'label-orientation@1.2.0');
  assert.equal(r.share, 0.5);
  assert.equal(app.shadow.report('cam2'), null);
  await until('parts compared and skipped by the share', () => {
    const x = app.shadow.report('cam1')!;
    return x.parts >= 3 && x.skipped >= 3;
  }, 20_000);
  assert.equal(app.stations[1]!.model!.manifest.version, '1.0.0');
});
