import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildConfig } from '../../src/config/load.js';
import { fillTopic } from '../../src/config/cloud-topics.js';
import { isLinesightError } from '../../src/errors.js';

function load(extra: Record<string, unknown>, station: Record<string, unknown> = {}) {
  return buildConfig(
    { line: 'L7', stations: [{ id: 'cam1', source: { type: 'replay', path: '.' }, model: 'label-orientation', ...station }], ...extra },
    { origin: 'linesight.yaml', baseDir: mkdtempSync(join(tmpdir(), 'linesight-cloud-')) },
  );
}

function refused(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isLinesightError(err, 'LS_ERR_CONFIG_INVALID'), String(err));
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

test('the default cloud topics load, and fill in within AWS IoT Core\'s limits', () => {
  const c = load({});
  assert.deepEqual(c.cloud.send.topics, {
    verdict: 'linesight/v1/{line}/{station}/verdict/{verdict}',
    summary: 'linesight/v1/{line}/{station}/summary',
    event: 'linesight/v1/{line}/{station}/event/{event}',
  });
  assert.equal(fillTopic(c.cloud.send.topics.verdict, { line: 'L7', station: 'cam1', verdict: 'fail' }), 'linesight/v1/L7/cam1/verdict/fail');
  assert.deepEqual({ fails: c.cloud.send.fails, passes: c.cloud.send.passes, summaries: c.cloud.send.summaries, events: c.cloud.send.events }, { fails: true, passes: false, summaries: 60, events: true });
});

test('a topic template with 8 slashes is refused at load, naming the template', () => {
  const template = 'a/b/c/d/e/{line}/{station}/verdict/{verdict}';
  refused(() => load({ cloud: { send: { topics: { verdict: template } } } }), /cloud\.send\.topics\.verdict/, new RegExp(template.replace(/[{}]/g, '\\$&')), /8 slashes, expected at most 7/);
  // 7 is fine.
  load({ cloud: { send: { topics: { verdict: 'a/b/c/d/{line}/{station}/verdict/{verdict}' } } } });
});

test('unknown placeholders, empty levels, wildcards, $-topics and over-long topics are refused', () => {
  refused(() => load({ cloud: { send: { topics: { summary: 'x/{camera}/summary' } } } }), /cloud\.send\.topics\.summary/, /not \{camera\}/);
  refused(() => load({ cloud: { send: { topics: { event: 'x//{station}/{event}' } } } }), /empty topic level/);
  refused(() => load({ cloud: { send: { topics: { event: 'x/#' } } } }), /cloud\.send\.topics\.event/);
  refused(() => load({ cloud: { send: { topics: { event: '$aws/things/x/{event}' } } } }), /cloud\.send\.topics\.event/);
  refused(() => load({ cloud: { thingName: 'T'.repeat(128), send: { topics: { verdict: `${'x'.repeat(120)}/{thing}/{verdict}` } } } }), /bytes for station cam1, expected at most 256/);
});

test('per-station overrides: known keys only', () => {
  const c = load({}, { cloud: { passes: true, summaries: 0 } });
  assert.deepEqual(c.stations[0]!.cloud, { passes: true, summaries: 0 });
  refused(() => load({}, { cloud: { images: true } }), /stations\/0\/cloud|stations\[0\]\.cloud/);
});
