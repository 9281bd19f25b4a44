import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildConfig, loadConfigFile, loadDefaultConfig, parseConfigText } from '../../src/config/load.js';
import { isLinesightError } from '../../src/errors.js';
import { cli, samplesDir, tempDir } from '../helpers/env.js';

const minimal = `
stations:
  - id: cam1
    source: { type: replay, path: ${samplesDir} }
    model: label-orientation
`;

function problems(yaml: string): string {
  try {
    buildConfig(parseConfigText(yaml, 'test.yaml'), { origin: 'test.yaml', baseDir: '/' });
  } catch (err) {
    assert.ok(isLinesightError(err, 'LS_ERR_CONFIG_INVALID'), `expected LS_ERR_CONFIG_INVALID, got ${String(err)}`);
    return err.message;
  }
  assert.fail('config was accepted');
}

test('a minimal config gets every default', () => {
  const c = buildConfig(parseConfigText(minimal, 'x'), { origin: 'x', baseDir: '/' });
  assert.equal(c.line, 'line-1');
  assert.equal(c.stations[0]!.budgetMs, 100);
  assert.equal(c.stations[0]!.failSafe, 'reject');
  assert.equal(c.stations[0]!.source.type === 'replay' && c.stations[0]!.source.ratePerSec, 10);
  assert.equal(c.mqtt.embedded.port, 1883);
  assert.equal(c.api.port, 8080);
  assert.deepEqual(c.inference.executionProviders, ['cpu']);
});

test('the embedded default config is valid and replays the bundled samples', () => {
  const c = loadDefaultConfig();
  assert.equal(c.stations.length, 1);
  assert.equal(c.stations[0]!.model, 'label-orientation');
});

test('a wrong type names the path, the value and what was expected', () => {
  const msg = problems(minimal.replace('model: label-orientation', 'model: label-orientation\n    budgetMs: fast'));
  assert.match(msg, /stations\[0\]\.budgetMs: got "fast", expected integer/);
});

test('an unknown key is an error that names it and the allowed keys', () => {
  const msg = problems(minimal + 'mqtt:\n  brokr: mqtt://x\n');
  assert.match(msg, /mqtt\.brokr: unknown key; expected one of: url, embedded/);
  const top = problems(minimal + 'budget: 50\n');
  assert.match(top, /budget: unknown key/);
});

test('an out-of-range number and a bad enum are reported with the allowed values', () => {
  assert.match(problems(minimal + 'api: { port: 70000 }\n'), /api\.port: got 70000, expected a number <= 65535/);
  assert.match(problems(minimal.replace('model: label-orientation', 'model: label-orientation\n    failSafe: explode')), /stations\[0\]\.failSafe: got "explode", expected one of "reject", "accept"/);
});

test('an unknown source type names the known ones', () => {
  assert.match(problems(minimal.replace('type: replay', 'type: carrier-pigeon')), /stations\[0\]\.source\.type: got "carrier-pigeon", expected one of "replay"/);
});

test('missing stations and duplicate station ids are refused', () => {
  assert.match(problems('line: a\n'), /missing required key "stations"/);
  const dup = minimal + `  - id: cam1\n    source: { type: replay, path: x }\n    model: m\n`;
  assert.match(problems(dup), /stations\[1\]\.id: got "cam1", expected an id not used by another station/);
});

test('a missing file and invalid YAML are clear errors', (t) => {
  assert.throws(() => loadConfigFile('/nonexistent/linesight.yaml'), (err: unknown) => isLinesightError(err, 'LS_ERR_CONFIG_FILE') && /\/nonexistent\/linesight.yaml: no such file/.test(err.message));
  const dir = tempDir(t);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'stations: [\n');
  assert.throws(() => loadConfigFile(bad), (err: unknown) => isLinesightError(err, 'LS_ERR_CONFIG_PARSE'));
  const dupKey = join(dir, 'dup.yaml');
  writeFileSync(dupKey, 'line: a\nline: b\n');
  assert.throws(() => loadConfigFile(dupKey), (err: unknown) => isLinesightError(err, 'LS_ERR_CONFIG_PARSE'));
});

test('relative paths resolve against the config file; env overrides secrets and is validated', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'linesight.yaml');
  writeFileSync(file, minimal.replace(samplesDir, 'parts') + 'models: { directory: ./m }\n');
  const c = loadConfigFile(file, { LINESIGHT_API_TOKEN: 'a-long-enough-token-123', LINESIGHT_MQTT_URL: 'mqtt://10.0.0.1:1883' });
  assert.equal(c.stations[0]!.source.type === 'replay' && c.stations[0]!.source.path, join(dir, 'parts'));
  assert.equal(c.models.directory, join(dir, 'm'));
  assert.equal(c.api.token, 'a-long-enough-token-123');
  const withVideo = join(dir, 'video.yaml');
  writeFileSync(withVideo, `stations:
  - { id: a, source: { type: ffmpeg, url: clips/line.mp4 }, model: m }
  - { id: b, source: { type: ffmpeg, url: "rtsp://cam/1" }, model: m }
  - { id: c, source: { type: ffmpeg, url: /dev/video0 }, model: m }
`);
  const v = loadConfigFile(withVideo);
  assert.deepEqual(v.stations.map((s) => s.source.type === 'ffmpeg' && s.source.url), [join(dir, 'clips/line.mp4'), 'rtsp://cam/1', '/dev/video0']);
  assert.equal(c.mqtt.url, 'mqtt://10.0.0.1:1883');
  assert.throws(() => loadConfigFile(file, { LINESIGHT_API_TOKEN: 'short' }), /after environment overrides[\s\S]*api\.token/);
});

test('LINESIGHT_STATE_DIR, LINESIGHT_MODELS_DIR and LINESIGHT_LISTEN_HOST: what a deployment engine decides; the outbox and evidence follow the state', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'linesight.yaml');
  writeFileSync(file, minimal + 'models: { directory: ./m }\n');
  const c = loadConfigFile(file, { LINESIGHT_STATE_DIR: '/srv/gg/work/state', LINESIGHT_MODELS_DIR: 'models' });
  assert.equal(c.state.directory, '/srv/gg/work/state');
  assert.equal(c.cloud.outbox.path, '/srv/gg/work/state/cloud-outbox.db');
  assert.equal(c.evidence.directory, '/srv/gg/work/state/evidence');
  assert.equal(c.models.directory, join(dir, 'models'), 'relative to the config file, like the file value');
  const listen = loadConfigFile(file, { LINESIGHT_LISTEN_HOST: '0.0.0.0' });
  assert.deepEqual([listen.api.host, listen.mqtt.embedded.host], ['0.0.0.0', '0.0.0.0']);
});

test('linesight check-config exits 0 on a good file and 1 with the problems on a bad one', (t) => {
  const dir = tempDir(t);
  const good = join(dir, 'good.yaml');
  writeFileSync(good, minimal);
  const ok = spawnSync(process.execPath, [cli, 'check-config', good], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /OK \(1 station\(s\): cam1 label-orientation\)/);
  const typo = join(dir, 'typo.yaml');
  writeFileSync(typo, minimal.replace('model: label-orientation', 'model: label-orientaton'));
  const bad0 = spawnSync(process.execPath, [cli, 'check-config', typo], { encoding: 'utf8' });
  assert.equal(bad0.status, 1);
  assert.match(bad0.stderr, /stations\[0\]\.model: model label-orientaton not found: no versions under/);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, minimal + 'inference: { workers: "two", gpu: true }\n');
  const no = spawnSync(process.execPath, [cli, 'check-config', bad], { encoding: 'utf8' });
  assert.equal(no.status, 1);
  assert.match(no.stderr, /LS_ERR_CONFIG_INVALID/);
  assert.match(no.stderr, /inference\.workers: got "two", expected integer/);
  assert.match(no.stderr, /inference\.gpu: unknown key/);
  const missing = spawnSync(process.execPath, [cli, 'run', '--config', join(dir, 'nope.yaml')], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /LS_ERR_CONFIG_FILE: cannot read config file .*nope\.yaml: no such file/);
});

/** The classic "billion laughs": 9 levels of 9 aliases, 9^9 strings if expanded. */
function billionLaughs(): string {
  const lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
  }
  return lines.join('\n') + '\n';
}

function parseFailure(t: Parameters<typeof tempDir>[0], name: string, content: string | Buffer, code = 'LS_ERR_CONFIG_PARSE'): string {
  const file = join(tempDir(t), name);
  writeFileSync(file, content);
  try {
    loadConfigFile(file);
  } catch (err) {
    assert.ok(isLinesightError(err), `expected a LinesightError, got ${(err as Error)?.stack}`);
    assert.equal(err.code, code, err.message);
    assert.ok(err.message.includes(file), `the message names the file: ${err.message}`);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    return err.message;
  }
  assert.fail('config was accepted');
}

test('a YAML alias bomb is refused with the file and the alias position, without expanding it', (t) => {
  const heapBefore = process.memoryUsage().heapUsed;
  const msg = parseFailure(t, 'bomb.yaml', billionLaughs());
  // Some alias of the nested levels (b..i, lines 2-9) is where the expansion passes the limit.
  assert.match(msg, /line [2-9], column \d+: aliases expand to too many values/);
  // Expanded, the bomb is 387 million strings; refused, it costs next to nothing.
  assert.ok(process.memoryUsage().heapUsed - heapBefore < 64 * 1024 * 1024);
  // A config with ordinary aliases still loads.
  const shared = `stations:
  - { id: cam1, source: &src { type: replay, path: p }, model: m, budgetMs: &budget 80 }
  - { id: cam2, source: *src, model: m, budgetMs: *budget }
`;
  const ok = buildConfig(parseConfigText(shared, 'x'), { origin: 'x', baseDir: '/' });
  assert.deepEqual(ok.stations.map((s) => s.budgetMs), [80, 80]);
});

test('YAML syntax errors name the file, line and column', (t) => {
  assert.match(parseFailure(t, 'tab.yaml', 'stations:\n\t- id: cam1\n'), /tab\.yaml is not valid YAML: line 2, column 1: a tab used for indentation/);
  assert.match(parseFailure(t, 'dup.yaml', 'line: a\nstations: []\nline: b\n'), /line 3, column 1: duplicate key "line"/);
  assert.match(parseFailure(t, 'indent.yaml', 'line: a\n  stations: b\n'), /line 1, column 7: /);
  assert.match(parseFailure(t, 'flow.yaml', 'stations: [\n'), /line \d+, column \d+: /);
  assert.match(parseFailure(t, 'two.yaml', 'line: a\n---\nline: b\n'), /line 2, column 1: a second YAML document/);
  assert.match(parseFailure(t, 'alias.yaml', 'line: a\nmqtt: *broker\n'), /line 2, column 7: alias \*broker has no anchor/);
});

test('binary, non-UTF-8 and NUL-bearing files are refused at the first bad byte', (t) => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52]);
  assert.match(parseFailure(t, 'image.yaml', png), /line 1, column 1: byte 0x89 at offset 0 is not UTF-8/);
  assert.match(parseFailure(t, 'latin1.yaml', Buffer.from('line: a\n# caf\xe9\n', 'latin1')), /line 2, column 6: byte 0xe9 at offset 13 is not UTF-8/);
  assert.match(parseFailure(t, 'nul.yaml', 'line: a\0b\n'), /line 1, column 8: a NUL byte/);
  // A real U+FFFD in a comment is text, not damage.
  assert.equal((parseConfigText('line: a # \ufffd\n', 'x') as { line: string }).line, 'a');
});

test('an empty file, a list and a scalar at the top level are clear errors', (t) => {
  assert.match(parseFailure(t, 'empty.yaml', '', 'LS_ERR_CONFIG_EMPTY'), /empty\.yaml is empty: it needs at least a `stations:` list/);
  assert.match(parseFailure(t, 'comments.yaml', '# stations go here\n\n', 'LS_ERR_CONFIG_EMPTY'), /is empty/);
  assert.match(parseFailure(t, 'list.yaml', '- cam1\n- cam2\n', 'LS_ERR_CONFIG_INVALID'), /the top level is a list; expected a mapping of settings/);
  assert.match(parseFailure(t, 'scalar.yaml', 'stations\n', 'LS_ERR_CONFIG_INVALID'), /the top level is a string \("stations"\); expected a mapping/);
});

test('a huge file, a directory and a device are refused without reading them', (t) => {
  const huge = 'line: a\n' + `# ${'x'.repeat(100)}\n`.repeat(20_000);
  assert.match(parseFailure(t, 'huge.yaml', huge, 'LS_ERR_CONFIG_FILE'), /huge\.yaml: \d\.\d MiB is larger than the 1\.0 MiB a config file may have/);
  const dir = tempDir(t);
  assert.throws(() => loadConfigFile(dir), (err: unknown) => isLinesightError(err, 'LS_ERR_CONFIG_FILE') && err.message.includes(`${dir}: it is a directory`));
  assert.throws(() => loadConfigFile('/dev/zero'), (err: unknown) => isLinesightError(err, 'LS_ERR_CONFIG_FILE') && /\/dev\/zero: not a regular file/.test(err.message));
});

test('a wrong secret is named by its path and kind, never echoed', () => {
  const msg = problems(minimal + 'api: { token: 12345 }\nmqtt: { url: "mqtt://u:hunter2@h:1883", password: 7 }\n');
  assert.match(msg, /api\.token: got a number \[redacted\], expected string/);
  assert.ok(!msg.includes('12345') && !msg.includes('hunter2'), msg);
});

test('linesight check-config and run answer a hostile config with one line: code, file, position; no stack', (t) => {
  const dir = tempDir(t);
  const bomb = join(dir, 'bomb.yaml');
  writeFileSync(bomb, billionLaughs());
  for (const args of [['check-config', bomb], ['run', '-c', bomb]]) {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^linesight: LS_ERR_CONFIG_PARSE: config file .*bomb\.yaml is not valid YAML: line \d+, column \d+: aliases expand/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  const typo = spawnSync(process.execPath, [cli, 'check-config', '--confg', bomb], { encoding: 'utf8' });
  assert.equal(typo.status, 2);
  assert.match(typo.stderr, /^linesight: Unknown option '--confg'/);
  assert.doesNotMatch(typo.stderr, /\n\s+at /);
});
