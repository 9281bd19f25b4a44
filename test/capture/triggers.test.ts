import assert from 'node:assert/strict';
import { chmodSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FrameRing } from '../../src/capture/frame-ring.js';
import { GpioTrigger, type GpioTriggerStatus } from '../../src/capture/gpio-trigger.js';
import { gpiomonArgs, parseGpiomonLine, parseGpiomonVersion } from '../../src/capture/gpiomon.js';
import { parsePartId, parseTriggerPayload, type TriggerEvent, type TriggerHealth } from '../../src/capture/trigger.js';
import { isLinesightError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from '../helpers/env.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { recorder } from '../helpers/recorder.js';

test('trigger payloads: bare id, JSON, empty; bad ids are reported, not used', () => {
  assert.deepEqual(parseTriggerPayload(Buffer.from('SN-1')), { partId: 'SN-1' });
  assert.deepEqual(parseTriggerPayload(Buffer.from('{"partId":"A7"}')), { partId: 'A7' });
  assert.deepEqual(parseTriggerPayload(Buffer.from('{"partId":42}')), { partId: '42' });
  assert.deepEqual(parseTriggerPayload(Buffer.from('  ')), {});
  assert.match(parseTriggerPayload(Buffer.from('{"partId":')).problem!, /not valid JSON/);
  assert.match(parseTriggerPayload(Buffer.from('a b')).problem!, /printable characters without spaces/);
  assert.match(parsePartId('x'.repeat(129)).problem!, /1-128/);
  assert.match(parsePartId({}).problem!, /must be a string/);
  // When the sender stamped it: a trigger held through an outage says how late it is.
  assert.deepEqual(parseTriggerPayload(Buffer.from('{"partId":"A8","sentAt":1767225600000}')), { partId: 'A8', sentWall: 1_767_225_600_000 });
  assert.deepEqual(parseTriggerPayload(Buffer.from('{"partId":"A9","sentAt":"2026-01-01T00:00:00.250Z"}')), { partId: 'A9', sentWall: 1_767_225_600_250 });
  const badStamp = parseTriggerPayload(Buffer.from('{"partId":"A10","sentAt":"yesterday"}'));
  assert.equal(badStamp.partId, 'A10');
  assert.match(badStamp.problem!, /sentAt must be/);
});

test('the frame ring gives the newest frame within the tolerance before the trigger', () => {
  const ring = new FrameRing(4);
  const f = (t: number) => ({ camera: 'c', seq: t, capturedAt: t, capturedWall: t, image: { kind: 'encoded' as const, data: new Uint8Array() } });
  for (const t of [100, 200, 300, 400, 500]) ring.push(f(t));
  assert.equal(ring.nearestBefore(450, 100)?.capturedAt, 400);
  assert.equal(ring.nearestBefore(450, 10), undefined);
  assert.equal(ring.nearestBefore(150, 1000), undefined); // 100 fell out of the ring
  assert.equal(ring.nearestBefore(50, 1000), undefined);
});

test('gpiomon v1 and v2: version, command line and output format', () => {
  const v1 = parseGpiomonVersion('gpiomon (libgpiod) v1.6.3\nCopyright (C) 2017-2018 Bartosz Golaszewski\n')!;
  const v2 = parseGpiomonVersion('gpiomon (libgpiod) v2.1.3\nCopyright (C) 2017-2023 Bartosz Golaszewski\n')!;
  assert.deepEqual(v1, { major: 1, minor: 6, text: 'v1.6.3' });
  assert.deepEqual(v2, { major: 2, minor: 1, text: 'v2.1.3' });
  assert.equal(parseGpiomonVersion('gpiomon: unrecognized option'), undefined);

  assert.deepEqual(gpiomonArgs(v1, { chip: '/dev/gpiochip0', line: 17, edge: 'rising' }), ['--line-buffered', '--format=%e %s %n', '--rising-edge', 'gpiochip0', '17']);
  assert.deepEqual(gpiomonArgs(v1, { chip: 'gpiochip0', line: 17, edge: 'falling' }), ['--line-buffered', '--format=%e %s %n', '--falling-edge', 'gpiochip0', '17']);
  assert.deepEqual(gpiomonArgs(v1, { chip: 'gpiochip0', line: 17, edge: 'both' }), ['--line-buffered', '--format=%e %s %n', 'gpiochip0', '17']);
  assert.deepEqual(gpiomonArgs(v2, { chip: 'gpiochip0', line: 17, edge: 'rising' }), ['-c', 'gpiochip0', '-e', 'rising', '-F', '%e %S', '17']);
  assert.deepEqual(gpiomonArgs(v2, { chip: '/dev/gpiochip1', line: 4, edge: 'both' }), ['-c', '/dev/gpiochip1', '-e', 'both', '-F', '%e %S', '4']);

  // v1 prints nanoseconds without padding; v2 prints seconds.nanoseconds.
  assert.deepEqual(parseGpiomonLine(v1, '1 1234 5000000'), { edge: 'rising', ms: 1_234_005 });
  assert.deepEqual(parseGpiomonLine(v1, '0 1234 000500000'), { edge: 'falling', ms: 1_234_000.5 });
  assert.deepEqual(parseGpiomonLine(v2, '1 1234.005000000'), { edge: 'rising', ms: 1_234_005 });
  assert.deepEqual(parseGpiomonLine(v2, '2 1234.000500000'), { edge: 'falling', ms: 1_234_000.5 });
  // Each version's output means nothing to the other parser.
  assert.equal(parseGpiomonLine(v2, '0 1234 5000000'), undefined);
  assert.equal(parseGpiomonLine(v1, '2 1234.005000000'), undefined);
  assert.equal(parseGpiomonLine(v2, 'Monitoring line 17...'), undefined);
});

/**
 * A stand-in for gpiomon (this machine has no GPIO chip): answers --version like libgpiod
 * `version`, logs each run's arguments, and runs the shell snippet for that run (the last one
 * again for any later run). A snippet ending in `exec sleep` keeps running until stopped.
 */
function fakeGpiomon(t: { after: (fn: () => void) => void }, version: string, runs: string[]) {
  const dir = tempDir(t);
  const chip = join(dir, 'gpiochip0');
  writeFileSync(chip, '');
  const program = join(dir, 'gpiomon');
  const argsFile = join(dir, 'args');
  const cases = runs.map((body, i) => `  ${i === runs.length - 1 ? '*' : i + 1}) ${body} ;;`).join('\n');
  writeFileSync(
    program,
    `#!/bin/sh\nif [ "$1" = "--version" ]; then printf 'gpiomon (libgpiod) ${version}\\nCopyright (C) 2017-2023 Bartosz Golaszewski\\n'; exit 0; fi\n` +
      `echo "$*" >> '${argsFile}'\nn=$(wc -l < '${argsFile}')\ncase $n in\n${cases}\nesac\n`,
  );
  chmodSync(program, 0o755);
  return { chip, program, runs: () => readFileSync(argsFile, 'utf8').trim().split('\n') };
}

function gpio(t: { after: (fn: () => void | Promise<void>) => void }, options: ConstructorParameters<typeof GpioTrigger>[0]) {
  const events = recorder<TriggerEvent>();
  const health = recorder<TriggerHealth & { status: GpioTriggerStatus }>();
  const trigger: GpioTrigger = new GpioTrigger({ ...options, onHealthChange: (h) => health.push({ ...h, status: trigger.status() }) });
  t.after(() => trigger.stop());
  return { trigger, events, health, start: () => trigger.start(events.push) };
}

test('a GPIO trigger on a chip that does not exist is a clear error', async () => {
  const trig = new GpioTrigger({ chip: 'gpiochip77', line: 3, edge: 'rising', debounceMs: 5, log: silentLogger });
  await assert.rejects(trig.start(() => {}), (err: unknown) => isLinesightError(err, 'LS_ERR_TRIGGER') && /\/dev\/gpiochip77 does not exist/.test(err.message));
});

test('no gpiomon, or one older than libgpiod 1.3, is a clear error', async (t) => {
  const { chip } = fakeGpiomon(t, 'v2.1.3', ['exec sleep 30']);
  const missing = new GpioTrigger({ chip, line: 3, edge: 'rising', debounceMs: 5, log: silentLogger, program: join(chip, '..', 'no-such-gpiomon') });
  await assert.rejects(missing.start(() => {}), (err: unknown) => isLinesightError(err, 'LS_ERR_TRIGGER') && /apt-get install gpiod/.test(err.message));
  const old = fakeGpiomon(t, 'v1.2', ['exec sleep 30']);
  const trig = new GpioTrigger({ chip: old.chip, line: 3, edge: 'rising', debounceMs: 5, log: silentLogger, program: old.program });
  await assert.rejects(trig.start(() => {}), (err: unknown) => isLinesightError(err, 'LS_ERR_TRIGGER') && /1\.3 or later/.test(err.message));
});

test('libgpiod v1: GPIO edges become triggers, with debounce', async (t) => {
  // Four edges: two 1 ms apart (one bounce), then two 50 ms apart. v1 does not pad nanoseconds.
  const fake = fakeGpiomon(t, 'v1.6.3', [`printf '1 100 0\\n1 100 1000000\\n1 100 50000000\\n1 100 100000000\\n'; exec sleep 30`]);
  const g = gpio(t, { chip: fake.chip, line: 3, edge: 'rising', debounceMs: 5, log: silentLogger, program: fake.program });
  await g.start();
  await g.events.until(() => g.events.items.length === 3, 'three triggers');
  await g.health.until(() => g.trigger.health().ok, 'gpiomon running');
  assert.deepEqual(fake.runs(), [`--line-buffered --format=%e %s %n --rising-edge ${fake.chip} 3`]);
  assert.match(g.events.items[0]!.origin, /^gpio:.*gpiochip0:3:rising$/);
  assert.match(g.trigger.health().detail, /gpiomon v1\.6\.3 watching/);
  await g.trigger.stop();
  assert.equal(g.events.items.length, 3);
  assert.deepEqual(g.trigger.health(), { ok: false, detail: 'stopped' });
});

test('libgpiod v2: GPIO edges on both edges become triggers, with debounce', async (t) => {
  const fake = fakeGpiomon(t, 'v2.1.3', [`printf '1 100.000000000\\n2 100.001000000\\n2 100.050000000\\n1 100.100000000\\n'; exec sleep 30`]);
  const g = gpio(t, { chip: fake.chip, line: 17, edge: 'both', debounceMs: 5, log: silentLogger, program: fake.program });
  await g.start();
  await g.events.until(() => g.events.items.length === 3, 'three triggers');
  assert.deepEqual(fake.runs(), [`-c ${fake.chip} -e both -F %e %S 17`]);
  assert.deepEqual(
    g.events.items.map((e) => e.origin.split(':').pop()),
    ['rising', 'falling', 'rising'],
  );
});

test('gpiomon that exits is restarted after a backoff: health red meanwhile, green again, and edges after the restart still fire', async (t) => {
  const clock = new FakeClock();
  const fake = fakeGpiomon(t, 'v2.1.3', [
    `printf '1 100.000000000\\n1 100.100000000\\n'; echo 'gpiomon: error reading line events: No such device' >&2; exit 1`,
    `printf '1 101.000000000\\n'; exec sleep 30`,
  ]);
  const g = gpio(t, { chip: fake.chip, line: 17, edge: 'rising', debounceMs: 5, log: silentLogger, program: fake.program, clock, random: () => 0.5, restart: { initialMs: 100 } });
  await g.start();
  await g.health.until(() => g.trigger.status().state === 'down', 'gpiomon to exit');
  assert.equal(g.events.items.length, 2, 'the edges printed before the exit fired');
  const down = g.trigger.status();
  assert.equal(down.retryInMs, 75); // 100 ms cap, jitter 0.5: half the cap plus a quarter
  assert.match(down.lastError!, /code 1\): gpiomon: error reading line events: No such device/);
  assert.equal(g.trigger.health().ok, false);
  assert.match(g.trigger.health().detail, /No such device; restarting in 75 ms/);

  clock.advance(75);
  await g.events.until(() => g.events.items.length === 3, 'the edge after the restart');
  await g.health.until(() => g.trigger.health().ok, 'gpiomon running again');
  assert.equal(g.trigger.status().restarts, 1);
  assert.equal(fake.runs().length, 2);
  // Red while starting and while down; green once running; red again when stopped.
  await g.trigger.stop();
  const oks = g.health.items.map((h) => h.ok).filter((ok, i, all) => i === 0 || ok !== all[i - 1]);
  assert.deepEqual(oks, [false, true, false, true, false]);
});

test('gpiomon that cannot get the line is retried with exponential backoff up to the maximum, and stays red saying why', async (t) => {
  const clock = new FakeClock();
  const busy = `echo "gpiomon: unable to request lines on chip '/dev/gpiochip0': Device or resource busy" >&2; exit 1`;
  const fake = fakeGpiomon(t, 'v2.1.3', [busy]);
  const g = gpio(t, { chip: fake.chip, line: 17, edge: 'rising', debounceMs: 5, log: silentLogger, program: fake.program, clock, random: () => 0.5, restart: { initialMs: 100, maxMs: 400 } });
  await g.start();
  const delays: number[] = [];
  for (let i = 1; i <= 4; i++) {
    await g.health.until(() => g.health.items.filter((h) => h.status.state === 'down').length === i, `failure ${i}`);
    const { retryInMs } = g.trigger.status();
    delays.push(retryInMs!);
    assert.equal(g.trigger.health().ok, false);
    assert.match(g.trigger.health().detail, /Device or resource busy/);
    clock.advance(retryInMs!);
  }
  assert.deepEqual(delays, [75, 150, 300, 300]);
  assert.ok(g.health.items.every((h) => !h.ok), 'never green');
  // A chip that disappears is reported as such, without running gpiomon for nothing.
  await g.health.until(() => g.health.items.filter((h) => h.status.state === 'down').length === 5, 'failure 5');
  const runs = fake.runs().length;
  unlinkSync(fake.chip);
  clock.advance(g.trigger.status().retryInMs!);
  assert.match(g.trigger.health().detail, /gpiochip0 does not exist \(GPIO chip gone\?\); restarting in 300 ms/);
  assert.equal(fake.runs().length, runs);
});
