// The memory bench: where a process's RSS is (the smaps classes it reports), and a short real
// run (the service with 2 workers at the default budget, the naive script, Node alone) whose
// JSON holds what the README's Memory figures are read from.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { classifySmaps } from '../../src/bench/memory-map.js';
import { regressionScript, runRegression } from '../../src/bench/regressions.js';
import { tempDir } from '../helpers/env.js';

// Abridged from a service process's /proc/<pid>/smaps: a mapping's header, then its fields.
const smaps = `00400000-00e5a000 r--p 00000000 fe:01 2231                               /usr/bin/node
Size:              10600 kB
Rss:                7168 kB
Pss:                7168 kB
00e5a000-02800000 r-xp 00a5a000 fe:01 2231                               /usr/bin/node
Size:              26264 kB
Rss:               21094 kB
358f7000-36bc0000 rw-p 00000000 00:00 0                                  [heap]
Size:              19748 kB
Rss:               19660 kB
7fb768000000-7fb768f00000 rw-p 00000000 00:00 0 
Size:              15360 kB
Rss:               11674 kB
Anonymous:         11674 kB
7fb7a0000000-7fb7a1000000 r-xp 00000000 fe:01 99                         /work/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1
Size:              16384 kB
Rss:               17818 kB
7fb7a2000000-7fb7a2100000 rw-p 00000000 00:00 0                          [stack]
Size:               1024 kB
Rss:                 100 kB
VmFlags: rd wr mr mw me gd ac
`;

test('smaps: the node binary, libraries, the main malloc heap and the rest, adding up to the RSS', () => {
  const b = classifySmaps(smaps, '/usr/bin/node');
  assert.deepEqual(b, { nodeBinaryMiB: 27.6, librariesMiB: 17.4, mallocHeapMiB: 19.2, anonymousMiB: 11.5, totalMiB: 75.7 });
  // Another binary's path (a Node 24 beside /usr/bin/node) makes /usr/bin/node a library like any other file.
  const other = classifySmaps(smaps, '/opt/node24/bin/node');
  assert.equal(other.nodeBinaryMiB, 0);
  assert.equal(other.librariesMiB, 45);
  assert.equal(other.totalMiB, b.totalMiB);
});

test('linesight bench memory: the service, the naive script and Node alone, measured in one run', async (t) => {
  const out = join(tempDir(t), 'memory.json');
  const code = await runRegression('memory', ['--seconds', '2', '--warmup', '1', '--rounds', '1', '--out', out], 'ignore');
  assert.equal(code, 0);
  const r = JSON.parse(readFileSync(out, 'utf8')) as {
    settings: { workers: number };
    runs: Record<string, Array<{ steadyMiB: number; peakMiB: number; partsPerSec: number; breakdown: { nodeBinaryMiB: number; totalMiB: number } }>>;
    ratios: { serviceOverNaiveScript: number };
  };
  assert.equal(r.settings.workers, 2);
  const [svc] = r.runs['Linesight (the service)']!;
  const [naive] = r.runs['naive script (1 thread)']!;
  const [bare] = r.runs['Node.js alone']!;
  for (const [name, m] of Object.entries({ svc, naive, bare })) {
    assert.ok(m!.breakdown.nodeBinaryMiB > 5, `${name}: the node binary's pages are found (${m!.breakdown.nodeBinaryMiB} MiB)`);
    assert.ok(m!.steadyMiB > 0 && m!.steadyMiB <= m!.peakMiB, `${name}: steady ${m!.steadyMiB} within peak ${m!.peakMiB}`);
  }
  // Both did the work: frames at 10 parts/s, decoded and run.
  assert.ok(svc!.partsPerSec >= 8, `the service ran ${svc!.partsPerSec} parts/s`);
  assert.ok(naive!.partsPerSec >= 5, `the naive script ran ${naive!.partsPerSec} parts/s`);
  // A model, sharp and ONNX Runtime cost tens of MiB over Node alone; the service more than the script.
  assert.ok(naive!.steadyMiB > bare!.steadyMiB + 20, `naive ${naive!.steadyMiB} against Node alone ${bare!.steadyMiB}`);
  assert.ok(svc!.steadyMiB > naive!.steadyMiB, `service ${svc!.steadyMiB} against naive ${naive!.steadyMiB}`);
  assert.equal(r.ratios.serviceOverNaiveScript, Math.round((svc!.steadyMiB / naive!.steadyMiB) * 100) / 100);
});

test('a bad option is refused with its name and value, no stack trace', () => {
  for (const [args, message] of [
    [['--rate', 'fast'], /^memory bench: --rate: got "fast", expected a number of at least 0.1$/m],
    [['--frame', '9mp'], /^memory bench: --frame: got "9mp", expected one of 1280x1024, 5mp, 12mp$/m],
    [['--no-such-option'], /^memory bench: Unknown option '--no-such-option'/m],
  ] as const) {
    const r = spawnSync(process.execPath, [regressionScript('memory').path, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 1, args.join(' '));
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});
