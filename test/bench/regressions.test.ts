// The regression benches run through `linesight bench NAME`: every script in benchmarks/ is
// reachable by a name, a name runs its script with the options after it, and anything else is
// refused with the names it could have been.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { benchCommand } from '../../src/cli-bench.js';
import { isLinesightError } from '../../src/errors.js';
import { regressionBenches, regressionScript, runRegression } from '../../src/bench/regressions.js';

const sources = fileURLToPath(new URL('../../../benchmarks/', import.meta.url));
const io = () => {
  let out = '';
  return { io: { out: { write: (s: string) => (out += s) }, err: { write: () => true } }, text: () => out };
};

test('every benchmark script has a name, and every name has a built script', () => {
  const scripts = readdirSync(sources).filter((f) => f.endsWith('.ts')).map((f) => basename(f, '.ts') + '.js').sort();
  assert.deepEqual(Object.values(regressionBenches).map((b) => b.file).sort(), scripts);
  for (const name of Object.keys(regressionBenches)) assert.match(regressionScript(name).path, /dist\/benchmarks\/[a-z-]+\.js$/);
  assert.deepEqual(regressionScript('swaps').nodeArgs, ['--expose-gc'], 'swaps forces collections to measure memory after them');
});

test('a name runs its bench with the options after it; options alone are the sizing bench', async () => {
  const calls: Array<[string, string[]]> = [];
  const fake = async (name: string, args: string[]) => (calls.push([name, args]), 7);
  assert.equal(await benchCommand(['swaps', '--swaps', '3'], io().io, fake), 7, "the bench's exit code");
  assert.deepEqual(calls, [['swaps', ['--swaps', '3']]]);
  const help = io();
  assert.equal(await benchCommand(['--help'], help.io, fake), 0);
  assert.equal(calls.length, 1);
  assert.match(help.text(), /linesight bench cloud-latency/);
});

test('an unknown name is refused with the names it could be', async () => {
  await assert.rejects(
    benchCommand(['swap'], io().io),
    (err: unknown) => isLinesightError(err, 'LS_ERR_BENCH_OPTION') && /"swap".*throughput, swaps/.test((err as Error).message),
  );
});

test("a bench runs in a Node process of its own and its exit code comes back (a bad option: the bench's own error)", async () => {
  assert.equal(await runRegression('cloud-volume', ['--no-such-option'], 'ignore'), 1);
});
