// Native addons used by the workers are also loaded here, in the main thread, and never
// unloaded. When a worker thread that was the last user of an addon exits, Node unloads it,
// and the replacement worker then fails with "Module did not self-register" (seen with
// onnxruntime-node 1.23 on Node 20; sharp documents the same). Holding a reference in the
// main thread makes a crashed worker replaceable.
import 'onnxruntime-node';
import 'sharp';
