// The dashboard in a real browser (Debian's Chromium, driven by playwright-core): live verdicts,
// counts, latency and the frames of the last part and the last reject.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { startApp } from '../helpers/app.js';
import { samplesDir, tempDir } from '../helpers/env.js';

const browserPath = '/usr/bin/chromium';

test('the dashboard shows live verdicts, counts, latency and the last inspected and rejected frames', async (t) => {
  assert.ok(existsSync(browserPath), `${browserPath} is missing: apt-get install chromium (.ci/run does)`);
  const app = await startApp(t, {
    line: 'hall-9',
    stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation' }],
  });

  const img = await fetch(`${app.apiUrl}/stations/cam1/image?which=bogus`);
  assert.equal(img.status, 400);
  assert.equal((await fetch(`${app.apiUrl}/stations/nope/image`)).status, 404);

  const browser = await chromium.launch({
    executablePath: browserPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${app.apiUrl}/`); // redirects to /dashboard
  assert.match(page.url(), /\/dashboard$/);
  const card = page.locator('[data-station="cam1"]');
  await card.locator('.meta').filter({ hasText: 'label-orientation@1.0.0 on cpu' }).waitFor({ timeout: 15_000 });
  await page.locator('#conn', { hasText: 'live' }).waitFor();
  // Wait until the table has rows of both kinds and a reject frame has been shown.
  await card.locator('tbody tr[data-verdict="pass"]').first().waitFor({ timeout: 15_000 });
  await card.locator('tbody tr[data-verdict="fail"]').first().waitFor({ timeout: 15_000 });
  // (A string: the function runs in the page, which this file's types do not describe.)
  await page.waitForFunction(
    `[...document.querySelectorAll('[data-station="cam1"] img')].every((i) => i.complete && i.naturalWidth > 0)`,
    undefined,
    { timeout: 15_000 },
  );
  assert.equal(await page.locator('#gallery').isHidden(), true, 'no fail gallery with evidence off');
  const passCount = Number(await card.locator('[data-kind="pass"] b').textContent());
  const failCount = Number(await card.locator('[data-kind="fail"] b').textContent());
  assert.ok(passCount > 0 && failCount > 0, `${passCount} pass, ${failCount} fail`);
  assert.match((await card.locator('.latency').textContent()) ?? '', /p50 \d+\.\d ms · p99 \d+\.\d ms · budget 100 ms/);
  assert.match((await card.locator('.reject-cap').textContent()) ?? '', /last reject: (fail|uncertain)/);
  assert.equal(await card.locator('.state').textContent(), 'streaming');
  const shot = join(tempDir(t), 'dashboard.png');
  await page.screenshot({ path: shot });
  assert.ok(existsSync(shot));
  assert.deepEqual(errors, []);
  if (process.env.LINESIGHT_KEEP_SCREENSHOT) await page.screenshot({ path: process.env.LINESIGHT_KEEP_SCREENSHOT });
});

test('with api.protectReads the dashboard opened with ?access_token= streams live verdicts, loads its images and shows the fail gallery', async (t) => {
  const token = 'dashboard-test-token-0123456789';
  const app = await startApp(t, {
    stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation' }],
    api: { port: 0, token, protectReads: true },
    evidence: { enabled: true },
  });
  assert.equal((await fetch(`${app.apiUrl}/dashboard`)).status, 401);

  const browser = await chromium.launch({
    executablePath: browserPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const refused: string[] = [];
  page.on('response', (r) => r.status() === 401 && refused.push(r.url()));
  await page.goto(`${app.apiUrl}/?access_token=${token}`);
  const card = page.locator('[data-station="cam1"]');
  await page.locator('#conn', { hasText: 'live' }).waitFor({ timeout: 15_000 });
  await card.locator('tbody tr').first().waitFor({ timeout: 15_000 });
  await page.waitForFunction(`(() => { const i = document.querySelector('[data-station="cam1"] img.last'); return i && i.complete && i.naturalWidth > 0; })()`, undefined, { timeout: 15_000 });
  // The fail gallery: thumbnails of kept fails (loaded with the token), captions with station,
  // label, score and time, each linking to its full image.
  const thumb = page.locator('#gallery figure').first();
  await thumb.waitFor({ timeout: 15_000 });
  await page.waitForFunction(`[...document.querySelectorAll('#gallery img')].every((i) => i.complete && i.naturalWidth > 0)`, undefined, { timeout: 15_000 });
  assert.match((await thumb.locator('figcaption').textContent()) ?? '', /^cam1 · \S+ \d\.\d{3} · \d/);
  const id = await thumb.getAttribute('data-id');
  const href = (await thumb.locator('a').getAttribute('href')) ?? '';
  assert.ok(href.startsWith(`/evidence/${encodeURIComponent(id!)}/image?access_token=`), href);
  const full = await fetch(`${app.apiUrl}${href}`);
  assert.equal(full.status, 200);
  assert.equal(full.headers.get('content-type'), 'image/jpeg');
  const listed = (await (await fetch(`${app.apiUrl}/evidence?verdict=fail`, { headers: { authorization: `Bearer ${token}` } })).json()) as { items: Array<{ id: string; verdict: string }> };
  assert.ok(listed.items.some((e) => e.id === id && e.verdict === 'fail'));
  assert.equal((await fetch(`${app.apiUrl}/evidence`)).status, 401, 'the list needs the token with protectReads');
  assert.deepEqual(refused, []);
});
