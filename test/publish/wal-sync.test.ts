// The outbox's off-loop durability: one fdatasync in flight at most, commits made meanwhile share
// the next one, durable() resolves only once a sync that covers the commit returned; and in the
// outbox, the checkpoint worker keeps the WAL short without the main thread's help.
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteOutbox } from '../../src/publish/outbox-sqlite.js';
import { WalSync } from '../../src/publish/wal-sync.js';
import { tempDir, until } from '../helpers/env.js';

function heldSyncs() {
  const calls: Array<(err: NodeJS.ErrnoException | null) => void> = [];
  return { calls, sync: (_fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void calls.push(done) };
}

test('commits during a sync in flight share the next sync; durable() waits for the sync that covers it', async (t) => {
  const wal = join(tempDir(t, 'walsync-'), 'x-wal');
  writeFileSync(wal, '');
  const held = heldSyncs();
  const ws = new WalSync(wal, { sync: held.sync });
  t.after(() => ws.close());
  let firstDurable = false;
  let laterDurable = false;
  ws.committed();
  void ws.durable().then(() => (firstDurable = true));
  for (let i = 0; i < 5; i++) ws.committed();
  void ws.durable().then(() => (laterDurable = true));
  assert.equal(held.calls.length, 1, 'one sync in flight however many commits');
  assert.equal(ws.stats().pending, 6);
  held.calls[0]!(null);
  await new Promise((r) => setImmediate(r));
  assert.equal(firstDurable, true, 'the first commit was covered by the first sync');
  assert.equal(laterDurable, false, 'commits made after the first sync began are not yet on disk');
  assert.equal(held.calls.length, 2, 'the five later commits share one sync');
  held.calls[1]!(null);
  await new Promise((r) => setImmediate(r));
  assert.equal(laterDurable, true);
  assert.deepEqual(ws.stats(), { syncs: 2, pending: 0, failures: 0, lastError: null });
});

test('a failed sync is counted and reported, and retried: the commit stays pending until a sync succeeds', async (t) => {
  const wal = join(tempDir(t, 'walsync-'), 'x-wal');
  writeFileSync(wal, '');
  const held = heldSyncs();
  const errors: string[] = [];
  const ws = new WalSync(wal, { sync: held.sync, onError: (e) => errors.push(e.message) });
  t.after(() => ws.close());
  ws.committed();
  let durable = false;
  void ws.durable().then(() => (durable = true));
  held.calls[0]!(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
  assert.deepEqual(errors, ['EIO: i/o error, fdatasync']);
  assert.equal(ws.stats().pending, 1);
  await until('the retry', () => held.calls.length === 2, 5000);
  assert.equal(durable, false);
  held.calls[1]!(null);
  await new Promise((r) => setImmediate(r));
  assert.equal(durable, true);
  assert.equal(ws.stats().failures, 1);
});

test('background mode: adds are synced off the event loop and the checkpoint worker keeps the WAL short', async (t) => {
  const path = join(tempDir(t, 'outbox-bg-'), 'outbox.db');
  const outbox = new SqliteOutbox({ path, checkpointIntervalMs: 50 });
  t.after(() => outbox.close());
  const payload = Buffer.alloc(1000, 0x61);
  // A busy line's outbox: bursts of 20 messages added and acknowledged, with pauses the worker
  // can checkpoint in. Each message writes about five 4 KiB pages to the WAL, twice (add, ack).
  let largestWal = 0;
  for (let i = 0; i < 3000; i++) {
    outbox.add({ id: `m${i}`, station: 's1', class: 'fail', topic: 't', payload });
    if (i % 20 === 19) {
      outbox.ack(outbox.next(20).map((m) => m.id));
      largestWal = Math.max(largestWal, statSync(`${path}-wal`).size);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  await outbox.durable();
  const sync = outbox.syncStats()!;
  assert.equal(sync.pending, 0);
  assert.ok(sync.syncs > 0 && sync.syncs < 3150, `${sync.syncs} syncs for 3150 commits: grouped, never skipped`);
  assert.ok(sync.checkpoints > 0, 'the worker checkpointed');
  // Left to itself this connection would checkpoint only at 10,000 pages (40 MB of WAL).
  assert.ok(largestWal < 20 * 1024 * 1024, `the WAL reached ${largestWal} bytes`);
  assert.equal(outbox.stats().depth, 0);
});
