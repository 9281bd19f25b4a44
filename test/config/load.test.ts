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
