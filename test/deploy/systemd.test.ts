// The systemd unit as shipped, read the way systemd reads it: with ProtectSystem=strict the whole
// file system is read-only but for the unit's writable paths, so every path the shipped config
// makes Linesight write must sit under one of them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, isAbsolute } from 'node:path';
import { test } from 'node:test';
import { buildConfig } from '../../src/config/load.js';
import { parseYaml } from '../../src/config/parse.js';
import type { Config } from '../../src/config/schema.js';
import { repo, tempDir } from '../helpers/env.js';

const unitFile = join(repo, 'deploy', 'systemd', 'linesight.service');
const configFile = join(repo, 'deploy', 'systemd', 'linesight.yaml');

/** [Service] settings; a key given more than once keeps every value, in order. */
function serviceSection(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) { section = header[1]!; continue; }
    if (section !== 'Service') continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq).trim();
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return settings;
}

const words = (values: string[] | undefined) => (values ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean);
const yes = (values: string[] | undefined) => /^(1|yes|true|on)$/i.test(values?.at(-1) ?? '');

/** What the unit leaves writable under ProtectSystem=strict (systemd.exec(5)). */
function writableRoots(unit: Map<string, string[]>): string[] {
  const roots = words(unit.get('ReadWritePaths')).map((p) => p.replace(/^[-+]+/, ''));
  const managed: Array<[string, string]> = [['StateDirectory', '/var/lib'], ['CacheDirectory', '/var/cache'], ['LogsDirectory', '/var/log'], ['RuntimeDirectory', '/run']];
  for (const [key, base] of managed) roots.push(...words(unit.get(key)).map((d) => join(base, d.split(':')[0]!)));
  if (yes(unit.get('PrivateTmp'))) roots.push('/tmp', '/var/tmp');
  return roots;
}

const under = (path: string, root: string) => { const r = relative(root, path); return r === '' || (!r.startsWith('..') && !isAbsolute(r)); };

/** Every directory the config makes Linesight write into, and why. */
function writtenPaths(config: Config, env: Map<string, string>): Array<[string, string]> {
  return [
    ['state.directory', config.state.directory],
    ['evidence.directory', config.evidence.directory!],
    ['cloud.outbox.path', dirname(config.cloud.outbox.path!)],
    ['models.directory (uploads, Greengrass and seeded versions)', config.models.directory!],
    ['temp directory (TFLite binding copies)', env.get('TMPDIR') ?? '/tmp'],
  ];
}

function configPathOf(unit: Map<string, string[]>): string {
  const m = /--config\s+(\S+)/.exec(unit.get('ExecStart')?.[0] ?? '');
  assert.ok(m, 'ExecStart names the config with --config');
  return m[1]!;
}

function loadAsInstalled(unit: Map<string, string[]>, yamlText: string): Config {
  const installedAt = configPathOf(unit);
  return buildConfig(parseYaml(yamlText, installedAt), { origin: installedAt, baseDir: dirname(installedAt) });
}

function unwritable(unit: Map<string, string[]>, config: Config): string[] {
  const env = new Map(words(unit.get('Environment')).map((kv) => kv.split('=', 2) as [string, string]));
  const roots = writableRoots(unit);
  return writtenPaths(config, env).filter(([, p]) => !roots.some((r) => under(p, r))).map(([what, p]) => `${what}: ${p}`);
}

test('every path the shipped config writes is writable under the unit\'s hardening', () => {
  const unit = serviceSection(readFileSync(unitFile, 'utf8'));
  assert.equal(unit.get('ProtectSystem')?.at(-1), 'strict', 'the check assumes a read-only file system');
  assert.notEqual(unit.get('User')?.at(-1) ?? 'root', 'root');
  const config = loadAsInstalled(unit, readFileSync(configFile, 'utf8'));
  assert.deepEqual(unwritable(unit, config), []);
  // The models the ExecStartPre seeds land where the config reads them.
  const seed = (unit.get('ExecStartPre') ?? []).find((c) => c.includes('seed-models.sh'));
  assert.ok(seed?.endsWith(` ${config.models.directory}`), `seed-models.sh writes into models.directory: ${seed}`);
  // SIGTERM drains for shutdown.drainTimeoutMs: systemd must wait longer before SIGKILL.
  assert.ok(Number(unit.get('TimeoutStopSec')?.at(-1)) * 1000 > config.shutdown.drainTimeoutMs);
});

test('the check fails on the old layout: state next to the config under /etc, models in /opt', () => {
  const unit = serviceSection(readFileSync(unitFile, 'utf8'));
  // The old layout: no state.directory (its default, .linesight, sits next to the config in
  // /etc/linesight) and the models in the installed tree (where the bundled ones are when unset).
  const old = readFileSync(configFile, 'utf8').replace(/^models:[\s\S]*?(?=^shutdown:)/m, 'models: { directory: /opt/linesight/models }\n');
  const config = loadAsInstalled(unit, old);
  assert.deepEqual(unwritable(unit, config).map((l) => l.split(':')[0]), [
    'state.directory', 'evidence.directory', 'cloud.outbox.path', 'models.directory (uploads, Greengrass and seeded versions)',
  ]);
});

test('systemd-analyze verify accepts the unit', (t) => {
  const probe = spawnSync('systemd-analyze', ['--version']);
  if (probe.error) return t.skip('systemd-analyze is not installed');
  const r = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '');
});

test('seed-models.sh copies the bundled versions once and never over a delivered one', (t) => {
  const models = join(tempDir(t), 'models');
  const seed = () => spawnSync('sh', [join(repo, 'deploy', 'seed-models.sh'), join(repo, 'models'), models], { encoding: 'utf8' });
  const first = seed();
  assert.equal(first.status, 0, first.stderr);
  const bundled = readdirSync(join(repo, 'models')).sort();
  assert.deepEqual(readdirSync(models).sort(), bundled);
  for (const name of bundled) assert.deepEqual(readdirSync(join(models, name)), readdirSync(join(repo, 'models', name)));
  mkdirSync(join(models, 'label-orientation', '9.9.9'));
  const again = seed();
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /label-orientation@1\.0\.0 is already installed/);
  assert.ok(readdirSync(join(models, 'label-orientation')).includes('9.9.9'));
});
