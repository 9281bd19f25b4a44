// The check both bundled models pass: every sample file gets the verdict and label recorded in
// its expected.json, with scores close to the recorded ones.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { decide, ruleFromManifest } from '../../src/models/decision.js';
import type { ModelManifest } from '../../src/models/manifest.js';
import type { PoolResult } from '../../src/inference/pool.js';
import type { ExpectedParts } from './env.js';

export async function expectSampleVerdicts(options: {
  dir: string;
  expected: ExpectedParts;
  manifest: ModelManifest;
  infer: (file: string) => Promise<PoolResult>;
  /** How far the positive-class probability may be from the recorded one. */
  tolerance: number;
}): Promise<Record<'pass' | 'fail' | 'uncertain', number>> {
  const { dir, expected, manifest, infer, tolerance } = options;
  const rule = ruleFromManifest(manifest);
  assert.deepEqual(rule.thresholds, expected.thresholds);
  const files = readdirSync(dir).filter((f) => f.endsWith('.jpg'));
  assert.equal(files.length, Object.keys(expected.parts).length);
  const seen = { pass: 0, fail: 0, uncertain: 0 };
  await Promise.all(
    files.map(async (file) => {
      const result = await infer(file);
      assert.ok(result.ok, `${file}: ${JSON.stringify(result)}`);
      const d = decide(result.scores, rule);
      const want = expected.parts[file]!;
      const p = d.scores[manifest.labels[1]!]!;
      assert.equal(d.verdict, want.verdict, `${file}: p(${manifest.labels[1]}) ${p}`);
      assert.equal(d.label, want.label, file);
      assert.ok(Math.abs(p - want.scores[1]) < tolerance, `${file}: p(${manifest.labels[1]}) ${p} vs ${want.scores[1]}`);
      seen[d.verdict]++;
    }),
  );
  return seen;
}
