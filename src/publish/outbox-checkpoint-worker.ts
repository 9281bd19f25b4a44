// Worker thread of the SQLite outbox: moves the WAL's pages into the database file (a checkpoint,
// with its two fsyncs) off the event loop. PASSIVE never takes the writer's lock, so the main
// thread keeps committing while a checkpoint runs.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { path, intervalMs } = workerData as { path: string; intervalMs: number };
// fileMustExist: an outbox closed and removed before this thread started must not be recreated.
const db = new Database(path, { timeout: 5000, fileMustExist: true });
// NORMAL: the WAL is synced before a checkpoint and the database after it.
db.pragma('synchronous = NORMAL');

function checkpoint(): void {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    if (r && r.checkpointed > 0) parentPort?.postMessage({ checkpointed: r.checkpointed });
  } catch (err) {
    parentPort?.postMessage({ error: (err as Error).message });
  }
}

const timer = setInterval(checkpoint, intervalMs);
parentPort?.on('message', (m: unknown) => {
  if (m === 'checkpoint') checkpoint();
  if (m === 'stop') {
    clearInterval(timer);
    db.close();
    parentPort?.close();
  }
});
