import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configReference } from '../../src/config/reference.js';
import { repo } from '../helpers/env.js';

test('the README config reference is the one generated from the schema (npm run docs)', () => {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const region = readme.split('<!-- config-reference:start -->')[1]?.split('<!-- config-reference:end -->')[0];
  assert.equal(region?.trim(), configReference().trim());
});

test('every schema field has a description', () => {
  for (const row of configReference().split('\n').slice(2).filter(Boolean)) {
    const cells = row.split(' | ');
    assert.ok((cells.at(-1) ?? '').replace(/\|\s*$/, '').trim().length > 0, `no description: ${row}`);
  }
});
