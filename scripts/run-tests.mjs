#!/usr/bin/env node
// Runs the compiled test files under the given directories (default dist/test) with node's test
// runner: one file at a time, 120 s per test. Node 20 takes a directory and searches it; Node 22+
// takes only files and globs (a directory is refused as a missing module), and Node 20 has no
// globs, so the files are listed here: every *.test.js, never the helpers and fixtures beside them.
//   node scripts/run-tests.mjs [DIR|FILE ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = process.argv.slice(2);
const files = [];
for (const root of roots.length ? roots : ['dist/test']) {
  if (statSync(root).isDirectory()) {
    for (const f of readdirSync(root, { recursive: true })) if (String(f).endsWith('.test.js')) files.push(join(root, String(f)));
  } else {
    files.push(root);
  }
}
files.sort();
if (!files.length) {
  process.stderr.write(`run-tests: no *.test.js under ${roots.join(' ')}\n`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=120000', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
