// The outbox survives SIGKILL: every message whose add() returned before the kill is there
// after reopening, in order.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteOutbox } from '../../src/publish/outbox-sqlite.js';
import { repo, tempDir } from '../helpers/env.js';

const writer = join(repo, 'dist', 'test', 'fixtures', 'outbox-writer.js');

for (const mode of ['background', 'full'] as const) {
  test(`SIGKILL in the middle of a stream of adds loses nothing that add() returned (synchronous ${mode})`, async (t) => {
    const path = join(tempDir(t, 'outbox-kill-'), 'outbox.db');
    const child = spawn(process.execPath, [writer, path, mode], { env: { ...process.env, LINESIGHT_OUTBOX_WRITER: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const acknowledged = new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.split('\n').length > 301) resolve();
      });
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await acknowledged;
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    // Everything printed was added before the kill (the print follows the add).
    const reported = out.split('\n').filter((l) => /^m\d+$/.test(l));
    const outbox = new SqliteOutbox({ path });
    t.after(() => outbox.close());
    const stored = outbox.next(1_000_000).map((m) => m.id);
    assert.ok(reported.length >= 300, `${reported.length} adds reported before the kill`);
    assert.deepEqual(stored.slice(0, reported.length), reported, 'every reported add is stored, in the order added');
    assert.ok(stored.length - reported.length <= 1, 'at most the add in flight at the kill beyond those reported');
  });
}
