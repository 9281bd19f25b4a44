// Linesight's own regression benches (benchmarks/), run through the same tool as the sizing
// bench: `linesight bench swaps [its options]`. Each guards one capability (hot swaps, the cloud
// path, a live RTSP camera...) rather than sizing a box, and prints ratios against a baseline in
// the same run. They are compiled with the tests, so they run from a source checkout, not from an
// image or a Greengrass artifact (which ship dist/src only).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LinesightError } from '../errors.js';

export interface RegressionBench {
  /** The compiled script under dist/benchmarks/. */
  file: string;
  about: string;
  /** Node options the bench needs (swaps forces collections to measure memory after them). */
  nodeArgs?: string[];
}

export const regressionBenches: Record<string, RegressionBench> = {
  throughput: { file: 'throughput.js', about: 'capacity per worker count (demo crops), latency at 80 % of it' },
  swaps: { file: 'swaps.js', about: 'hot swaps at 10 parts/s: parts lost, timeouts, memory', nodeArgs: ['--expose-gc'] },
  shadow: { file: 'shadow.js', about: "a shadow trial's cost to the active version's p99" },
  rtsp: { file: 'rtsp-latency.js', about: 'frame age and capture-time error of a live RTSP camera' },
  chaos: { file: 'chaos.js', about: '10 000 triggered parts through bursts, crashes and restarts' },
  outage: { file: 'outage.js', about: 'memory per hour while the local broker is unreachable' },
  'cloud-volume': { file: 'cloud-volume.js', about: 'what goes to the cloud against every verdict' },
  'cloud-latency': { file: 'cloud-latency.js', about: 'verdict latency: cloud up, down, draining a backlog' },
  'outbox-write': { file: 'outbox-write.js', about: "an outbox add's cost on the event loop, per SQLite mode" },
  opcua: { file: 'opcua-latency.js', about: "the OPC UA server's cost to verdict latency" },
  memory: { file: 'memory.js', about: 'RSS of the service against a one-thread script doing the same work, and Node alone' },
};

const benchmarksDir = new URL('../../benchmarks/', import.meta.url);

export const regressionUsage = `  Linesight's own regression benches (from a source checkout: npm run build first):
${Object.entries(regressionBenches)
  .map(([name, b]) => `    linesight bench ${name.padEnd(14)} ${b.about}`)
  .join('\n')}
  Their options follow the name (see the comment at the top of benchmarks/<name>.ts).
`;

/** The compiled script of bench `name`, or an error that says why it cannot run here. */
export function regressionScript(name: string): { path: string; nodeArgs: string[] } {
  const bench = regressionBenches[name];
  if (!bench) throw new LinesightError('LS_ERR_BENCH_OPTION', `got ${JSON.stringify(name)}, expected one of ${Object.keys(regressionBenches).join(', ')} or an option`, { args: ['bench name'] });
  const path = fileURLToPath(new URL(bench.file, benchmarksDir));
  if (!existsSync(path)) {
    throw new LinesightError('LS_ERR_BENCH_OPTION', `${path} is not built: regression benches run from a source checkout after npm run build (images ship the service only)`, { args: [name] });
  }
  return { path, nodeArgs: bench.nodeArgs ?? [] };
}

/** Runs regression bench `name` in a Node process of its own (its flags, its output); resolves to its exit code. */
export function runRegression(name: string, args: string[], output: 'inherit' | 'ignore' = 'inherit'): Promise<number> {
  const { path, nodeArgs } = regressionScript(name);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, path, ...args], { stdio: ['inherit', output, output] });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}
