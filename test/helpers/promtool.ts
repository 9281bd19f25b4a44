// `promtool check metrics` on an exposition: it parses the text format and lints every metric
// name and type. Any line it prints is a failure; there is no allow-list.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/** promtool's complaints about `exposition`, one per line (empty when clean). */
export function promtoolProblems(exposition: string): string[] {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (r.error) throw r.error;
  const out = `${r.stdout}${r.stderr}`.split('\n').map((l) => l.trim()).filter(Boolean);
  if (r.status !== 0 && out.length === 0) out.push(`promtool exited with ${r.status} and said nothing`);
  return out;
}

export function assertPromtoolClean(exposition: string): void {
  assert.deepEqual(promtoolProblems(exposition), [], 'promtool check metrics');
}
