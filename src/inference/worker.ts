// Entry of an inference thread (the file the pool starts as a worker).
import { workerData } from 'node:worker_threads';
import { YoungGcPacer } from '../young-gc.js';
import type { WorkerOptions } from './messages.js';
import { handleTask, residentModels } from './worker-tasks.js';
import { serveTasks } from './worker-loop.js';

serveTasks(handleTask, residentModels, (workerData as WorkerOptions | null)?.freeBuffersEarly ? new YoungGcPacer() : undefined);
