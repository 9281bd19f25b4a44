// Baseline (d): the Python loop a user might write instead, with Debian's PyTorch and Debian's
// OpenCV DNN, on the same weights and frames (scripts/bench-python-baseline.py). Skipped, with the
// reason, when a module is missing or the model cannot be imported there.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelVersion } from '../models/registry.js';
import { packageRoot } from '../paths.js';
import { systemPython } from './models.js';
import type { PythonBaseline } from './result.js';
import { round } from './stats.js';

export const pythonBaselineScript = join(packageRoot, 'scripts', 'bench-python-baseline.py');

const labels = {
  torch: "Python loop, Debian's python3-torch (what Debian's packages give: no MKL)",
  opencv: "Python loop, Debian's python3-opencv DNN (opset-10 export)",
} as const;

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(systemPython, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
    child.on('error', (err) => resolve({ code: -1, stdout, stderr: err.message }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function pythonBaseline(engine: 'torch' | 'opencv', version: ModelVersion, frameFiles: readonly string[], seconds: number): Promise<PythonBaseline> {
  const label = labels[engine];
  if (!existsSync(systemPython)) return { engine, status: 'skipped', label, note: `${systemPython} not found` };
  // The same checks the script makes first, without starting Python for a model it cannot run.
  const source = version.manifest.source ?? {};
  if (engine === 'torch' && !(String(source['architecture'] ?? '').startsWith('torchvision.models.') && source['weightsFile'])) {
    return { engine, status: 'skipped', label, note: 'no torchvision architecture and weights file in the manifest (only the reference models have them)' };
  }
  if (engine === 'opencv' && !source['opset10File']) {
    return { engine, status: 'skipped', label, note: 'no opset-10 ONNX file in the manifest (OpenCV 4.6 DNN refuses opset 11 and 13 exports)' };
  }
  const r = await run([pythonBaselineScript, '--engine', engine, '--model-dir', version.dir, '--seconds', String(seconds), ...frameFiles], (seconds + 120) * 1000);
  if (r.code !== 0) {
    const why = r.stderr.trim().split('\n').filter((l) => !l.startsWith('[ERROR')).slice(-1)[0] ?? `exit ${r.code}`;
    return { engine, status: 'skipped', label, note: why };
  }
  const o = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { version: string; threads: number; partsPerSec: number; preprocessMsP50: number; inferenceMsP50: number };
  return {
    engine,
    status: 'ok',
    label,
    version: o.version,
    threads: o.threads,
    partsPerSec: round(o.partsPerSec),
    preprocessMsP50: round(o.preprocessMsP50, 2),
    inferenceMsP50: round(o.inferenceMsP50, 2),
    linesightRatio: 0, // filled in once Linesight's own figure is measured
  };
}
