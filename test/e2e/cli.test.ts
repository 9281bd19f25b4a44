// `linesight run` as a real process: SIGINT drains in-flight parts, publishes their verdicts
// and exits 0; a killed process leaves its cameras' retained status at `offline` (last will).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Verdict } from '../../src/verdict.js';
import { startMosquitto, subscribe } from '../helpers/brokers.js';
import { cli, freePort, samplesDir, tempDir } from '../helpers/env.js';

async function writeConfig(t: Parameters<typeof tempDir>[0], url: string): Promise<string> {
  const dir = tempDir(t);
  const file = join(dir, 'linesight.yaml');
  writeFileSync(
    file,
    `line: hall-2
stations:
  - id: cam-a
    source: { type: replay, path: ${samplesDir}, ratePerSec: 40 }
    model: label-orientation
mqtt: { url: "${url}" }
api: { port: ${await freePort()} }
summary: { intervalMs: 600000 }
log: { level: warn }
`,
  );
  return file;
}

test('SIGINT drains: every accepted part is published, exit code 0', async (t) => {
  const broker = await startMosquitto(t);
  const sub = await subscribe(t, broker.url, 'linesight/v1/hall-2/cam-a/verdict');
  const proc = spawn(process.execPath, [cli, 'run', '--config', await writeConfig(t, broker.url)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  t.after(() => proc.kill('SIGKILL'));
  await sub.next(() => sub.messages.length >= 30, 30_000);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  // Ctrl-C under `npm start` delivers SIGINT twice at once (terminal and npm): still one drain.
  proc.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 50));
  proc.kill('SIGINT');
  assert.equal(await exited, 0, stderr);
  // The summary flushed at stop counts every part the station accepted.
  const m = /\[summary\] cam-a parts=(\d+) pass=(\d+) fail=(\d+) uncertain=(\d+) timeout=(\d+) error=(\d+)/.exec(stdout);
  assert.ok(m, stdout);
  const accepted = Number(m[1]);
  // QoS 1 and the drain mean the broker has every verdict by the time the process exits.
  await sub.next(() => sub.messages.length >= accepted, 5_000);
  const verdicts = sub.messages.map((x) => JSON.parse(x.payload) as Verdict);
  assert.equal(verdicts.length, accepted);
  assert.equal(new Set(verdicts.map((v) => v.seq)).size, accepted);
  assert.equal(verdicts.filter((v) => v.verdict === 'error' || v.verdict === 'timeout').length, Number(m[5]) + Number(m[6]));
});

test('a killed process leaves the retained status offline (last will)', async (t) => {
  const broker = await startMosquitto(t);
  const status = await subscribe(t, broker.url, 'linesight/v1/hall-2/cam-a/status');
  const proc = spawn(process.execPath, [cli, 'run', '--config', await writeConfig(t, broker.url)], { stdio: 'ignore' });
  t.after(() => proc.kill('SIGKILL'));
  await status.next((m) => m.payload === 'online', 30_000);
  proc.kill('SIGKILL');
  const offline = await status.next((m) => m.payload === 'offline', 10_000);
  assert.equal(offline.topic, 'linesight/v1/hall-2/cam-a/status');
});
