// Entry of an inference thread (the file the pool starts as a worker).
import { handleTask, residentModels } from './worker-tasks.js';
import { serveTasks } from './worker-loop.js';

serveTasks(handleTask, residentModels);
