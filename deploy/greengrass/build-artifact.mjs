#!/usr/bin/env node
// Builds linesight.zip, the artifact of the com.linesight.Inspector Greengrass component (and the
// tree that the systemd unit runs from /opt/linesight), from a clean copy of the sources:
//   dist/src (compiled here), production node_modules, models/, samples/, deploy/ scripts, package.json.
//
//   node deploy/greengrass/build-artifact.mjs [--out build/linesight.zip] [--platform linux-x64]
//                                             [--node-modules DIR] [--tree DIR]
//
// Without --node-modules the production dependencies come from `npm ci` in the copy (network,
// native builds: minutes). --node-modules DIR reuses an installed tree of the same lock file and
// copies only the packages `npm ls --omit=dev` names (seconds; what the recipe test does).
// --tree DIR writes the same files into DIR instead of a ZIP (the container image's /app).
//
// Greengrass unarchives ZIP only (Java's ZipFile), restores no execute bits and no symlinks, so the
// ZIP holds plain files only, and everything in it is run through `node` or `sh`, never exec'd.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({
  options: {
    out: { type: 'string', default: join(repo, 'build', 'linesight.zip') },
    platform: { type: 'string', default: `${process.platform}-${process.arch}` },
    'node-modules': { type: 'string' },
    'keep-staging': { type: 'boolean', default: false },
    tree: { type: 'string' },
  },
});
const [targetOs, targetArch] = values.platform.split('-');
if (!targetOs || !targetArch) throw new Error(`--platform: got "${values.platform}", expected <os>-<arch> such as linux-x64 or linux-arm64`);

/** The inputs: sources and data only, never a build output of the checkout. */
const inputs = ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'src', 'native', 'models', 'samples', 'deploy', 'LICENSE', 'README.md'];
/** What the artifact holds, from the staged copy. */
const shipped = ['package.json', 'dist/src', 'node_modules', 'models', 'samples', 'deploy', 'README.md'];

const started = performance.now();
const work = mkdtempSync(join(tmpdir(), 'linesight-artifact-'));
const src = join(work, 'src');
const stage = join(work, 'stage');
const say = (msg) => process.stderr.write(`build-artifact: ${msg} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);

try {
  mkdirSync(src);
  for (const p of inputs) if (existsSync(join(repo, p))) cpSync(join(repo, p), join(src, p), { recursive: true, filter: (f) => !f.includes(`${sep}.linesight`) });

  const env = { ...process.env, npm_config_nodedir: process.env.npm_config_nodedir ?? dirname(dirname(process.execPath)) };
  let nodeModules;
  if (values['node-modules']) {
    nodeModules = realpathSync(values['node-modules']);
    copyProductionPackages(nodeModules, join(stage, 'node_modules'));
    say(`production packages copied from ${nodeModules}`);
  } else {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: src, env, stdio: 'inherit' });
    nodeModules = join(src, 'node_modules');
    say('npm ci done');
  }

  // Compile src/ only (tests and benchmarks are not shipped), with the lock file's TypeScript.
  writeFileSync(join(src, 'tsconfig.artifact.json'), JSON.stringify({ extends: './tsconfig.json', include: ['src/**/*.ts'], compilerOptions: { sourceMap: false } }));
  if (!existsSync(join(src, 'node_modules'))) execFileSync('ln', ['-s', nodeModules, join(src, 'node_modules')]);
  execFileSync(process.execPath, [join(nodeModules, 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.artifact.json'], { cwd: src, stdio: 'inherit' });
  say('compiled');

  if (!values['node-modules']) {
    execFileSync('npm', ['prune', '--omit=dev', '--no-audit', '--no-fund'], { cwd: src, env, stdio: 'inherit' });
  }
  for (const p of shipped) {
    if (p === 'node_modules' && values['node-modules']) continue;
    if (existsSync(join(src, p))) cpSync(join(src, p), join(stage, p), { recursive: true, dereference: true });
  }
  trimForPlatform(join(stage, 'node_modules'));
  trimUnused(join(stage, 'node_modules'));
  removeBinLinks(join(stage, 'node_modules'));
  const links = findSymlinks(stage);
  if (links.length) throw new Error(`the artifact would hold symlinks, which Greengrass does not restore: ${links.slice(0, 5).join(', ')}`);

  if (values.tree) {
    cpSync(stage, resolve(values.tree), { recursive: true });
    say(`${values.tree}: ${(du(stage) / 2 ** 20).toFixed(1)} MiB`);
  } else {
    const out = resolve(values.out);
    mkdirSync(dirname(out), { recursive: true });
    rmSync(out, { force: true });
    // -X: no extra attributes; the entries sit at the ZIP's root, so the nucleus extracts them to
    // {artifacts:decompressedPath}/linesight/.
    execFileSync('zip', ['-q', '-r', '-X', out, '.'], { cwd: stage, stdio: 'inherit' });
    say(`${relative(process.cwd(), out) || out}: ${(statSync(out).size / 2 ** 20).toFixed(1)} MiB (unpacked ${(du(stage) / 2 ** 20).toFixed(1)} MiB)`);
    process.stdout.write(`${out}\n`);
  }
} finally {
  if (values['keep-staging']) say(`staging kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

/** Production packages of an installed tree, each copied without its nested node_modules (those that are production are listed on their own). */
function copyProductionPackages(from, to) {
  const root = dirname(from);
  const listed = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 })
    .split('\n').map((l) => l.trim()).filter((l) => l && l !== root);
  for (const pkg of listed) {
    const rel = relative(from, pkg);
    if (rel.startsWith('..')) throw new Error(`npm ls named ${pkg}, outside ${from}`);
    const nested = join(pkg, 'node_modules');
    cpSync(pkg, join(to, rel), { recursive: true, dereference: true, filter: (f) => f !== nested });
  }
}

/**
 * Native packages ship binaries for every OS and CPU (and better-sqlite3 keeps its whole build);
 * only the target's can ever load. Each rule follows how the package finds its binary.
 */
function trimForPlatform(modules) {
  const pkg = (...p) => join(modules, ...p);
  const keepOnly = (dir, keep) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir)) if (!keep(e)) rmSync(join(dir, e), { recursive: true, force: true });
  };
  // onnxruntime-node: bin/napi-v*/<os>/<arch>/.
  const ort = pkg('onnxruntime-node', 'bin');
  if (existsSync(ort)) {
    for (const napi of readdirSync(ort)) {
      keepOnly(join(ort, napi), (os) => os === targetOs);
      keepOnly(join(ort, napi, targetOs), (arch) => arch === targetArch);
    }
  }
  // aws-crt: dist/native/binding.js loads dist/bin/<platform>-<arch>-<cruntime>/ and nothing else.
  // glibc only: Debian, Jetson's Ubuntu and Greengrass hosts are glibc, and onnxruntime-node has
  // no musl build, so a musl host could not run Linesight anyway.
  const crtRuntime = targetOs === 'linux' ? 'glibc' : 'cruntime';
  keepOnly(pkg('aws-crt', 'dist', 'bin'), (d) => d === `${targetOs}-${targetArch}-${crtRuntime}`);
  // better-sqlite3: lib/database.js loads build/Release/better_sqlite3.node through `bindings`;
  // the SQLite sources (deps/, src/), the objects and test_extension.node are its build's leftovers.
  const sqlite = pkg('better-sqlite3');
  if (existsSync(join(sqlite, 'build', 'Release', 'better_sqlite3.node'))) {
    for (const d of ['deps', 'src', 'binding.gyp']) rmSync(join(sqlite, d), { recursive: true, force: true });
    keepOnly(join(sqlite, 'build'), (e) => e === 'Release');
    keepOnly(join(sqlite, 'build', 'Release'), (e) => e === 'better_sqlite3.node');
  }
  // tfjs-tflite-node: the binding's RUNPATH is $ORIGIN/../../cc_deps/<os>_<arch> (arch as Go
  // names it); cc_deps/include holds the C headers it was compiled against. Its build/ keeps the
  // objects next to build/Release/node_tflite_binding.node, which runtimes/tflite.ts loads.
  const tflite = pkg('tfjs-tflite-node');
  if (existsSync(join(tflite, 'build', 'Release', 'node_tflite_binding.node'))) {
    const ccArch = { x64: 'amd64', arm64: 'arm64' }[targetArch] ?? targetArch;
    keepOnly(join(tflite, 'cc_deps'), (d) => d === `${targetOs}_${ccArch}`);
    keepOnly(join(tflite, 'build'), (e) => e === 'Release');
    keepOnly(join(tflite, 'build', 'Release'), (e) => e === 'node_tflite_binding.node');
  }
  // @linesight/jpeg (native/jpeg): index.cjs loads build/Release/jpeg_decode.node; the C source,
  // binding.gyp and the objects are its build's. Optional: a tree built without libjpeg headers
  // has none, and Linesight decodes with sharp (and says so).
  const jpeg = pkg('@linesight', 'jpeg');
  if (existsSync(join(jpeg, 'build', 'Release', 'jpeg_decode.node'))) {
    keepOnly(jpeg, (e) => ['build', 'index.cjs', 'package.json'].includes(e));
    keepOnly(join(jpeg, 'build'), (e) => e === 'Release');
    keepOnly(join(jpeg, 'build', 'Release'), (e) => e === 'jpeg_decode.node');
  }
}

/**
 * Files no `require` or `import` ever reads: source maps (nothing runs with --enable-source-maps),
 * markdown other than licence texts, TypeScript sources and declarations (Node does not strip
 * types under node_modules), and a few whole parts of packages whose entry points never reach them.
 */
function trimUnused(modules) {
  const licence = /^(licen[cs]e|copying|notice)/i;
  for (const e of readdirSync(modules, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const n = e.name;
    if (n.endsWith('.map') || /\.(ts|mts|cts)$/.test(n) || (/\.(md|markdown)$/i.test(n) && !licence.test(n))) rmSync(join(e.parentPath, n));
  }
  // protobufjs 6 (sparkplug-payload's): cli/ is pbjs/pbts with its own node_modules; the package's
  // main (index.js -> src/) never reaches it, and bin links are not shipped.
  rmSync(join(modules, 'protobufjs', 'cli'), { recursive: true, force: true });
  // @tensorflow/*: tfjs-tflite-node's dist requires only @tensorflow/tfjs-core (from
  // tflite_model.js); neither tfjs-core nor tfjs-tflite has an `exports` map, so Node resolves the
  // package to its `main` (dist/tf-core.node.js, dist/tf-tflite.node.js). The other single-file
  // bundles beside it (tf-*.js, .min.js, .es2017, .fesm: browser, CDN and bundler builds of the
  // same code) are never loaded; the per-module tree under dist/ (`module`) stays for deep imports.
  for (const name of ['tfjs-core', 'tfjs-tflite']) {
    const dir = pkg('@tensorflow', name);
    if (!existsSync(join(dir, 'package.json'))) continue;
    const main = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).main;
    if (!main || !existsSync(join(dir, main))) throw new Error(`@tensorflow/${name}: main ${main} is missing`);
    for (const f of readdirSync(join(dir, 'dist'))) {
      if (/^tf-.*\.js$/.test(f) && join('dist', f) !== join(main)) rmSync(join(dir, 'dist', f));
    }
  }
  function pkg(...p) { return join(modules, ...p); }
}

/** node_modules/.bin holds links to package CLIs: nothing the service runs. */
function removeBinLinks(modules) {
  for (const e of readdirSync(modules, { withFileTypes: true, recursive: true })) {
    if (e.name === '.bin' && e.isDirectory()) rmSync(join(e.parentPath, e.name), { recursive: true, force: true });
  }
}

function findSymlinks(dir) {
  const found = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isSymbolicLink()) found.push(relative(dir, join(e.parentPath, e.name)));
  }
  return found;
}

function du(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += lstatSync(join(e.parentPath, e.name)).size;
  return n;
}
