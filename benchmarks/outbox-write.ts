// Cost of one outbox add on the event loop (the only outbox work on the verdict path): SQLite in
// its three modes (background: fsync right after on the thread pool, the default; full: fsync
// inside add; normal: fsync at checkpoints), against the in-memory outbox measured in the same
// run. Adds are paced (one per millisecond, like a busy line's fails and summaries) so the
// background syncs and checkpoints run beside them, as in service. Writes
// benchmarks/results/outbox-write.json.
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

async function measure(name: string, outbox: Outbox): Promise<{ name: string; perAddUs: { p50: number; p99: number; mean: number; max: number } }> {
  const samples: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = process.hrtime.bigint();
    outbox.add({ id: `${name}-${i}`, station: `s${i % 4}`, class: 'fail', topic: 'linesight/v1/line/s/verdict/fail', payload });
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
    await new Promise((r) => setTimeout(r, 1));
  }
  if (outbox instanceof SqliteOutbox) await outbox.durable();
  outbox.close();
  samples.sort((a, b) => a - b);
  const q = (p: number) => Math.round(samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]! * 10) / 10;
  return { name, perAddUs: { p50: q(0.5), p99: q(0.99), mean: Math.round((samples.reduce((a, b) => a + b, 0) / N) * 10) / 10, max: q(1) } };
}

const dir = mkdtempSync(join(tmpdir(), 'outbox-bench-'));
try {
  const results = [
    await measure('memory', new MemoryOutbox()),
    await measure('sqlite-background', new SqliteOutbox({ path: join(dir, 'background.db'), synchronous: 'background' })),
    await measure('sqlite-full', new SqliteOutbox({ path: join(dir, 'full.db'), synchronous: 'full' })),
    await measure('sqlite-normal', new SqliteOutbox({ path: join(dir, 'normal.db'), synchronous: 'normal' })),
  ];
  const full = results.find((r) => r.name === 'sqlite-full')!.perAddUs;
  for (const r of results) {
    const u = r.perAddUs;
    const ratio = r.name === 'sqlite-full' ? '(the baseline)' : `(full's p99 / this: ${(full.p99 / u.p99).toFixed(1)}x, max: ${(full.max / u.max).toFixed(1)}x)`;
    console.log(`${r.name.padEnd(18)} p50 ${u.p50} us  p99 ${u.p99} us  max ${u.max} us  mean ${u.mean} us  ${ratio}`);
  }
  const out = join(packageRoot, 'benchmarks', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'outbox-write.json'), JSON.stringify({ n: N, payloadBytes: payload.length, results }, null, 2) + '\n');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
