// The message loop of an inference thread: one task in, one answer out, in order. Kept apart
// from the task handling so a test can wrap the handler (a model that hangs) and still run
// the real thing.
import { parentPort, threadId } from 'node:worker_threads';
import { monotonicMs } from '../clock.js';
import { describeError } from '../errors.js';
import type { YoungGcPacer } from '../young-gc.js';
import type { ResultMessage, TaskMessage, WorkerResult, WorkerTask } from './messages.js';

export function serveTasks(handle: (task: WorkerTask) => Promise<WorkerResult>, resident: () => string[], youngGc?: YoungGcPacer): void {
  const port = parentPort;
  if (!port) throw new Error('serveTasks() must run in a worker thread');
  port.on('message', (msg: TaskMessage) => {
    // A handler that throws still answers, so the pool never mistakes a bug for a hang.
    void handle(msg.task)
      .catch((err: unknown): WorkerResult => ({
        ok: false,
        error: describeError(err),
        stage: 'inference',
        timings: { startedAt: monotonicMs(), loadMs: 0, preprocessMs: 0, inferenceMs: 0 },
        threadId,
      }))
      .then((result) => {
        const reply: ResultMessage = { id: msg.id, result, resident: resident() };
        // The frame goes back to the main thread as it came: moved, so neither side copies it.
        const frame = msg.task.kind === 'infer' ? msg.task.image.data : undefined;
        if (frame && frame.byteLength > 0 && frame.buffer instanceof ArrayBuffer) {
          reply.frame = frame;
          port.postMessage(reply, [frame.buffer]);
        } else port.postMessage(reply);
        // Each part leaves its decoded pixels and tensor behind: freed young, between parts.
        youngGc?.tick();
      });
  });
}
