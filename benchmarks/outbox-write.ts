// Cost of one outbox add (the only outbox work on the verdict path): SQLite with
// synchronous=FULL (fsync per add: survives power loss) and NORMAL (survives a process kill),
// against the in-memory outbox measured in the same run. Writes benchmarks/results/outbox-write.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryOutbox } from '../src/publish/outbox-memory.js';
import type { Outbox } from '../src/publish/outbox.js';
import { SqliteOutbox } from '../src/publish/outbox-sqlite.js';
import { packageRoot } from '../src/paths.js';

const N = Number(process.env.N ?? 2000);
// A fail message is about the size of a verdict JSON.
const payload = Buffer.alloc(900, 0x7b);

function measure(name: string, outbox: Outbox): { name: string; perAddUs: { p50: number; p99: number; mean: number } } {
  const samples: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = process.hrtime.bigint();
    outbox.add({ id: `${name}-${i}`, station: `s${i % 4}`, class: 'fail', topic: 'linesight/v1/line/s/verdict/fail', payload });
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  outbox.close();
  samples.sort((a, b) => a - b);
  const q = (p: number) => Math.round(samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]! * 10) / 10;
  return { name, perAddUs: { p50: q(0.5), p99: q(0.99), mean: Math.round((samples.reduce((a, b) => a + b, 0) / N) * 10) / 10 } };
}

const dir = mkdtempSync(join(tmpdir(), 'outbox-bench-'));
try {
  const results = [
    measure('memory', new MemoryOutbox()),
    measure('sqlite-full', new SqliteOutbox({ path: join(dir, 'full.db'), synchronous: 'full' })),
    measure('sqlite-normal', new SqliteOutbox({ path: join(dir, 'normal.db'), synchronous: 'normal' })),
  ];
  for (const r of results) console.log(`${r.name.padEnd(14)} p50 ${r.perAddUs.p50} us  p99 ${r.perAddUs.p99} us  mean ${r.perAddUs.mean} us`);
  const out = join(packageRoot, 'benchmarks', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'outbox-write.json'), JSON.stringify({ n: N, payloadBytes: payload.length, results }, null, 2) + '\n');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
