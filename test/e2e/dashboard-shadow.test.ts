// The dashboard's new workflow in a real browser (Debian's Chromium, driven by playwright-core):
// the last-part image always shows its caption's part, and a shadow trial run from the model
// panel (start, agreement rising, promote, roll back) shows in the tile and on MQTT.
// Screenshots are kept in test-artifacts/ (git-ignored).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { chromium, type Page } from 'playwright-core';
import { repo, samplesDir, tempDir } from '../helpers/env.js';
import { makeVersion } from '../helpers/model-versions.js';
import { startApp } from '../helpers/app.js';

const browserPath = '/usr/bin/chromium';
const artifacts = join(repo, 'test-artifacts');
const token = 'dashboard-shadow-token-0123456789';
const files = readdirSync(samplesDir).filter((f) => f.endsWith('.jpg')).sort();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const fileSha = files.map((f) => sha(readFileSync(join(samplesDir, f))));

async function browse(t: { after: (fn: () => Promise<void>) => void }): Promise<Page> {
  assert.ok(existsSync(browserPath), `${browserPath} is missing: apt-get install chromium (.ci/run does)`);
  const browser = await chromium.launch({
    executablePath: browserPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1100, height: 1300 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  t.after(async () => assert.deepEqual(errors, [], 'no script errors in the page'));
  mkdirSync(artifacts, { recursive: true });
  return page;
}

test('the last-part image is the part its caption names, for 50 consecutive captions', async (t) => {
  const app = await startApp(t, {
    line: 'hall-9',
    stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation' }],
  });
  const page = await browse(t);
  // Every image the page loads, as the server sent it: its part (header) and its bytes.
  const served = new Map<string, Promise<{ partId: string; seq: number; sha: string }>>();
  page.on('response', (r) => {
    if (!r.url().includes('/image?seq=')) return;
    const read = (async () => {
      const v = JSON.parse((await r.headerValue('x-linesight-verdict')) ?? '{}') as { partId: string; seq: number };
      return { partId: v.partId, seq: v.seq, sha: sha(await r.body()) };
    })();
    read.catch(() => undefined); // the browser may close with the newest responses unread
    served.set(new URL(r.url()).pathname + new URL(r.url()).search, read);
  });
  await page.goto(`${app.apiUrl}/dashboard`);
  await page.locator('[data-station="cam1"] .last-cap').waitFor({ timeout: 15_000 });
  // Each time the caption changes, the page records it with the image shown under it.
  await page.evaluate(`(() => {
    window.__seen = [];
    const cap = document.querySelector('[data-station="cam1"] .last-cap');
    new MutationObserver(() => {
      const img = document.querySelector('[data-station="cam1"] img.last');
      window.__seen.push({ caption: cap.textContent, src: img.getAttribute('src'), complete: img.complete, width: img.naturalWidth });
    }).observe(cap, { childList: true, characterData: true, subtree: true });
  })()`);
  await page.waitForFunction('window.__seen && window.__seen.length >= 51', undefined, { timeout: 60_000, polling: 200 });
  const seen = ((await page.evaluate('window.__seen')) as Array<{ caption: string; src: string }>).slice(1, 51);
  await page.screenshot({ path: join(artifacts, 'dashboard-last-part.png') });
  let previous = 0;
  for (const s of seen) {
    const m = /^last part: (\w+) (\S+)$/.exec(s.caption);
    assert.ok(m, s.caption);
    const res = await served.get(s.src);
    assert.ok(res, `the image under "${s.caption}" was loaded from ${s.src}`);
    assert.equal(res.partId, m[2], `image of ${res.partId} under the caption of ${m[2]}`);
    // And it is that part's frame: the replay plays the sample files in order, seq 1 first.
    assert.equal(res.sha, fileSha[(res.seq - 1) % files.length], `part ${res.partId} shows ${files[(res.seq - 1) % files.length]}`);
    assert.ok(res.seq > previous, 'consecutive captions name newer parts');
    previous = res.seq;
  }
});

test('from the model panel: a shadow trial starts, its agreement rises, it is promoted (tile and MQTT) and rolled back', async (t) => {
  const models = tempDir(t);
  makeVersion(models, '1.0.0');
  makeVersion(models, '1.2.0');
  const app = await startApp(t, {
    line: 'hall-9',
    stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation@1.0.0' }],
    models: { directory: models, watch: false, autoRollback: { parts: 0 } },
    shadow: { reportEveryParts: 5, policy: { minParts: 20, minAgreement: 0.95, mode: 'manual' } },
    evidence: { enabled: true },
    api: { port: 0, token },
  });
  const sub = await mqtt.connectAsync(app.mqttUrl, { reconnectPeriod: 0 });
  t.after(() => sub.endAsync());
  const events: Array<Record<string, unknown>> = [];
  sub.on('message', (_topic, payload) => events.push(JSON.parse(payload.toString()) as Record<string, unknown>));
  await sub.subscribeAsync('linesight/v1/hall-9/cam1/event', { qos: 1 });

  const page = await browse(t);
  let asked = 0;
  page.on('dialog', (d) => {
    asked++;
    void d.accept(token);
  });
  await page.goto(`${app.apiUrl}/dashboard`);
  const tile = page.locator('[data-station="cam1"]');
  await tile.locator('.meta').first().filter({ hasText: 'label-orientation@1.0.0 on cpu' }).waitFor({ timeout: 15_000 });
  await tile.locator('select.candidate option[value="label-orientation@1.2.0"]').waitFor({ state: 'attached', timeout: 15_000 });
  await tile.locator('select.candidate').selectOption('label-orientation@1.2.0');
  await tile.locator('button[data-act="shadow-start"]').click();
  const status = tile.locator('.shadow-status');
  await status.filter({ hasText: 'label-orientation@1.2.0 vs label-orientation@1.0.0: running' }).waitFor({ timeout: 15_000 });
  // Agreement rises: the parts compared grow, all agreeing (the same weights and thresholds).
  const parts = async () => Number(await status.getAttribute('data-parts'));
  await page.waitForFunction(`Number(document.querySelector('[data-station="cam1"] .shadow-status').dataset.parts) >= 5`, undefined, { timeout: 30_000 });
  const early = await parts();
  await page.waitForFunction(`Number(document.querySelector('[data-station="cam1"] .shadow-status').dataset.parts) >= 20`, undefined, { timeout: 30_000 });
  assert.ok((await parts()) > early);
  await status.filter({ hasText: 'agreement 100.0%' }).waitFor();
  await status.filter({ hasText: 'ready to promote' }).waitFor({ timeout: 15_000 }).catch(async (err: Error) => {
    throw new Error(`${err.message}; the panel says: ${await status.textContent()}`);
  });
  await tile.screenshot({ path: join(artifacts, 'dashboard-shadow-trial.png') });
  assert.equal(app.stations[0]!.model!.manifest.version, '1.0.0', 'manual policy: ready, not promoted');

  await tile.locator('button[data-act="promote"]').click();
  await tile.locator('.meta').first().filter({ hasText: 'label-orientation@1.2.0' }).waitFor({ timeout: 15_000 });
  await tile.locator('table.latest tbody tr td:last-child', { hasText: '1.2.0' }).first().waitFor({ timeout: 15_000 });
  await tile.screenshot({ path: join(artifacts, 'dashboard-promoted.png') });
  assert.equal(app.stations[0]!.model!.manifest.version, '1.2.0');

  await tile.locator('button[data-act="rollback"]').click();
  await tile.locator('.meta').first().filter({ hasText: 'label-orientation@1.0.0' }).waitFor({ timeout: 15_000 });
  await tile.screenshot({ path: join(artifacts, 'dashboard-rolled-back.png') });
  assert.equal(app.stations[0]!.model!.manifest.version, '1.0.0');
  assert.equal(asked, 1, 'the token is asked once for the tab');

  const deadline = Date.now() + 10_000;
  const kinds = () => events.map((e) => e.type as string).filter((k) => k !== 'shadow-agreement');
  while (!kinds().includes('shadow-rolled-back') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(kinds(), ['shadow-started', 'shadow-ready', 'model-changed', 'shadow-promoted', 'model-changed', 'shadow-rolled-back']);
  const changes = events.filter((e) => e.type === 'model-changed');
  assert.deepEqual(changes.map((e) => [e.from, e.to, e.reason]), [
    ['label-orientation@1.0.0', 'label-orientation@1.2.0', 'shadow-promoted'],
    ['label-orientation@1.2.0', 'label-orientation@1.0.0', 'rollback'],
  ]);
  const agreement = events.filter((e) => e.type === 'shadow-agreement');
  assert.ok(agreement.length >= 4 && agreement.every((e) => e.agreement === 1), JSON.stringify(agreement.slice(0, 3)));
  const promoted = events.find((e) => e.type === 'shadow-promoted')!;
  assert.equal(promoted.candidate, 'label-orientation@1.2.0');
  assert.ok((promoted.parts as number) >= 20);
});
