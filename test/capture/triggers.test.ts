import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FrameRing } from '../../src/capture/frame-ring.js';
import { GpioTrigger } from '../../src/capture/gpio-trigger.js';
import { parsePartId, parseTriggerPayload, type TriggerEvent } from '../../src/capture/trigger.js';
import { isLinesightError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from '../helpers/env.js';

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

test('a GPIO trigger on a chip that does not exist is a clear error', async () => {
  const trig = new GpioTrigger({ chip: 'gpiochip77', line: 3, edge: 'rising', debounceMs: 5, log: silentLogger });
  await assert.rejects(trig.start(() => {}), (err: unknown) => isLinesightError(err, 'LS_ERR_TRIGGER') && /\/dev\/gpiochip77 does not exist/.test(err.message));
});

test('GPIO edges become triggers, with debounce (gpiomon output format, no GPIO hardware here)', async (t) => {
  // This machine has no GPIO chip, so a script prints what gpiomon prints for 4 edges:
  // two 1 ms apart (one bounce), then two 50 ms apart.
  const dir = tempDir(t);
  const fakeChip = join(dir, 'gpiochip0');
  writeFileSync(fakeChip, '');
  const program = join(dir, 'gpiomon');
  writeFileSync(program, '#!/bin/sh\nprintf "1 100 000000000\\n1 100 001000000\\n1 100 050000000\\n1 100 100000000\\n"\nsleep 5\n');
  chmodSync(program, 0o755);
  const trig = new GpioTrigger({ chip: fakeChip, line: 3, edge: 'rising', debounceMs: 5, log: silentLogger, program });
  const events: TriggerEvent[] = [];
  const three = new Promise<void>((resolve) =>
    trig.start((e) => {
      events.push(e);
      if (events.length === 3) resolve();
    }),
  );
  await three;
  await trig.stop();
  assert.equal(events.length, 3);
  assert.match(events[0]!.origin, /^gpio:.*gpiochip0:3:rising$/);
});
