// Regenerates the config reference in README.md from the schema (run `npm run docs`).
import { readFileSync, writeFileSync } from 'node:fs';
import { configReference } from '../dist/src/config/reference.js';

const file = new URL('../README.md', import.meta.url);
const readme = readFileSync(file, 'utf8');
const start = '<!-- config-reference:start -->';
const end = '<!-- config-reference:end -->';
const a = readme.indexOf(start);
const b = readme.indexOf(end);
if (a < 0 || b < a) throw new Error('README.md lacks the config-reference markers');
writeFileSync(file, readme.slice(0, a + start.length) + '\n' + configReference() + readme.slice(b));
