#!/usr/bin/env node
// Loads every native or heavy package of an installed Linesight tree and uses each once, so a
// trimmed node_modules (deploy/greengrass/build-artifact.mjs) or a slimmer base image that lost
// something a package needs fails here, at build time, rather than on the line. Exits 1 on the
// first failure. deploy/build-image.sh runs it in every image it builds.
//   node deploy/check-modules.mjs [APP_DIR]    (default: the tree this file belongs to)
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const app = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
const require = createRequire(join(app, 'package.json'));
const load = (rel) => import(pathToFileURL(join(app, rel)).href);
const checks = [];
const check = (name, fn) => checks.push({ name, fn });

// Every bundled model through Linesight's own runtime for its format (the path a worker takes:
// onnxruntime-node's session; the TFLite binding with its cc_deps library), one zero frame each.
const runtimes = {
  onnx: async () => (await load('dist/src/inference/runtimes/onnx.js')).onnxRuntime,
  tflite: async () => (await load('dist/src/inference/runtimes/tflite.js')).tfliteRuntime,
};
for (const name of readdirSync(join(app, 'models'))) {
  for (const version of readdirSync(join(app, 'models', name))) {
    const dir = join(app, 'models', name, version);
    if (!existsSync(join(dir, 'manifest.json'))) continue;
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    check(`${manifest.format} ${name}@${version}`, async () => {
      const runtime = await runtimes[manifest.format]();
      const session = await runtime.load(new Uint8Array(readFileSync(join(dir, manifest.file))), manifest, { intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all' });
      const size = manifest.input.shape.reduce((a, b) => a * b, 1);
      const scores = await session.run(manifest.input.dtype === 'uint8' ? new Uint8Array(size) : new Float32Array(size));
      await session.dispose();
      if (!scores.length || scores.some((s) => !Number.isFinite(s))) throw new Error(`scores ${Array.from(scores.slice(0, 4))}`);
      return `${session.provider}, ${scores.length} scores`;
    });
  }
}
// The package's own entry too: it requires @tensorflow/tfjs-core's main and its binding by `bindings`.
check('tfjs-tflite-node (package main)', async () => `exports ${Object.keys(require('tfjs-tflite-node')).filter((k) => k !== 'default').slice(0, 3).join(', ')}`);
check('better-sqlite3', async () => {
  const Database = require('better-sqlite3');
  const db = new Database(':memory:');
  const { v } = db.prepare('select sqlite_version() as v').get();
  db.close();
  return `SQLite ${v}`;
});
check('sharp', async () => {
  const sharp = require('sharp');
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).png().toBuffer();
  const { info } = await sharp(png).resize(4, 4).raw().toBuffer({ resolveWithObject: true });
  return `libvips ${sharp.versions.vips}, ${info.width}x${info.height}x${info.channels}`;
});
check('@linesight/jpeg (libjpeg-turbo scaled decode)', async () => {
  const jpeg = require('@linesight/jpeg');
  const sharp = require('sharp');
  const bytes = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } }).jpeg().toBuffer();
  const out = await new Promise((resolve, reject) => jpeg.decode(bytes, 4, (err, r) => (err ? reject(err) : resolve(r))));
  if (out.width !== 16 || out.height !== 12 || out.channels !== 3) throw new Error(`decoded ${out.width}x${out.height}x${out.channels}`);
  return `${jpeg.header(bytes).width}x${jpeg.header(bytes).height} at 1/4: ${out.width}x${out.height}`;
});
check('aws-crt', async () => {
  const crt = require('aws-crt');
  // A client bootstrap is the native event loop group and resolver: the binary is really loaded.
  new crt.io.ClientBootstrap();
  return `ClientBootstrap created, binary for cruntime ${require('aws-crt/dist/native/binding').cRuntime}`;
});

let failed = 0;
for (const { name, fn } of checks) {
  try {
    process.stdout.write(`check-modules: ${name}: ok (${await fn()})\n`);
  } catch (err) {
    failed++;
    process.stdout.write(`check-modules: ${name}: FAILED ${err?.stack ?? err}\n`);
  }
}
process.exit(failed ? 1 : 0);
