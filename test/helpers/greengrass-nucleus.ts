// The parts of the AWS IoT Greengrass v2 nucleus (2.18) that decide whether a Linesight component
// runs, reproduced from its source (the nucleus itself cannot be built here: its Maven
// dependencies are not reachable):
// - paths: artifacts in <root>/packages/artifacts/<name>/<version>/, unarchived ones in
//   <root>/packages/artifacts-unarchived/<name>/<version>/<file name minus its last extension>/,
//   the working directory <root>/work/<name> (owned by the component user);
// - only ZIP is unarchived (Java's ZipFile: anything else fails with IO_UNZIP_ERROR); extraction
//   keeps no execute bits; artifacts are owner-read-only (owner: the nucleus, root) until the
//   recipe's Permission opens them;
// - placeholders ({artifacts:path}, {artifacts:decompressedPath}, {work:path}, {kernel:rootPath},
//   {iot:thingName}, {configuration:/json/pointer}, {Other.Component:work:path} for a declared
//   dependency) are replaced in every string of the Lifecycle, Setenv included; a configuration
//   container is replaced by its JSON; an unknown one is left as it is (the nucleus logs it);
// - configuration: DefaultConfiguration, then the deployment's reset paths, then its merge
//   (objects merged key by key, anything else, lists included, replaced);
// - steps run as `sudo -n -E -H -u <user> -g <group> -- sh -c "<script>"` in the work directory,
//   as root where RequiresPrivilege; Shutdown runs first when a component stops, then what is
//   left of Run is killed.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, openSync, readSync, closeSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYamlText } from 'yaml';
import { repo } from './env.js';

export interface PosixUser { name: string; uid: number; gid: number; home: string }

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Step = string | { Script: string; RequiresPrivilege?: boolean; Timeout?: number; Setenv?: Record<string, string> };
export interface Recipe {
  ComponentName: string;
  ComponentVersion: string;
  ComponentConfiguration?: { DefaultConfiguration?: Record<string, Json> };
  ComponentDependencies?: Record<string, { VersionRequirement?: string; DependencyType?: string }>;
  Manifests: Array<{ Platform?: Record<string, string>; Artifacts?: Array<{ URI: string; Unarchive?: 'ZIP' | 'NONE'; Permission?: { Read?: string; Execute?: string } }>; Lifecycle?: Record<string, unknown> }>;
}

export class NucleusError extends Error {
  constructor(readonly code: string, message: string) { super(`${code}: ${message}`); }
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validateRecipe = ajv.compile(JSON.parse(readFileSync(join(repo, 'deploy', 'greengrass', 'recipe.schema.json'), 'utf8')));

/** Parse a recipe and check it against the documented fields (deploy/greengrass/recipe.schema.json). */
export function parseRecipe(text: string, origin: string): Recipe {
  const recipe = parseYamlText(text) as unknown;
  if (!validateRecipe(recipe)) {
    throw new NucleusError('RECIPE_INVALID', `${origin}: ${ajv.errorsText(validateRecipe.errors, { separator: '; ' })}`);
  }
  return recipe as Recipe;
}

const nucleusArch: Record<string, string> = { x64: 'amd64', arm64: 'aarch64', arm: 'arm', ia32: 'x86' };

/** The first manifest whose Platform fits this machine, as the nucleus picks it. */
export function selectManifest(recipe: Recipe): Recipe['Manifests'][number] {
  const fits = (want: string | undefined, have: string) => want === undefined || want === '*' || want === have || (/^\/.+\/$/.test(want) && new RegExp(want.slice(1, -1)).test(have));
  const m = recipe.Manifests.find((mf) => fits(mf.Platform?.os, process.platform) && fits(mf.Platform?.architecture, nucleusArch[process.arch] ?? process.arch));
  if (!m) throw new NucleusError('NO_AVAILABLE_COMPONENT_VERSION', `${recipe.ComponentName}: no manifest for ${process.platform}/${process.arch}`);
  return m;
}

function isObject(v: unknown): v is Record<string, Json> { return typeof v === 'object' && v !== null && !Array.isArray(v); }

/** The deployment's MERGE: objects key by key, anything else (lists included) replaced. */
export function mergeConfiguration(base: Json, update: Json): Json {
  if (!isObject(base) || !isObject(update)) return structuredClone(update);
  const out: Record<string, Json> = structuredClone(base);
  for (const [k, v] of Object.entries(update)) out[k] = k in out ? mergeConfiguration(out[k]!, v) : structuredClone(v);
  return out;
}

/** Jackson with SORT_PROPERTIES_ALPHABETICALLY and ORDER_MAP_ENTRIES_BY_KEYS: keys sorted, compact. */
function nucleusJson(v: Json): string {
  const sort = (x: Json): Json => Array.isArray(x) ? x.map(sort) : isObject(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, sort(x[k]!)])) : x;
  return JSON.stringify(sort(v));
}

function jsonPointer(doc: Json, pointer: string): Json | undefined {
  if (pointer === '') return doc;
  let node: Json | undefined = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) node = node[Number(key)];
    else if (isObject(node)) node = node[key];
    else return undefined;
  }
  return node;
}

export interface Installed {
  recipe: Recipe;
  configuration: Json;
  artifactsPath: string;
  decompressedPath: string;
  workPath: string;
  lifecycle: Record<string, unknown>;
}

export interface StepResult { code: number | null; signal: NodeJS.Signals | null; output: string }

/** One device: a nucleus root, a component user, a thing name, the components deployed on it. */
export class MiniNucleus {
  readonly components = new Map<string, Installed>();
  private readonly running = new Map<string, ChildProcess & { output: () => string }>();

  constructor(readonly root: string, readonly user: PosixUser, readonly thingName: string) {}

  artifactsPath(name: string, version: string): string { return join(this.root, 'packages', 'artifacts', name, version); }
  decompressedPath(name: string, version: string): string { return join(this.root, 'packages', 'artifacts-unarchived', name, version); }
  workPath(name: string): string { return join(this.root, 'work', name); }

  /**
   * Prepare a component version as a deployment does: artifacts downloaded (`files`: artifact
   * file name → local file), unarchived, permissions set, configuration resolved, the lifecycle
   * interpolated. Runs nothing.
   */
  prepare(recipe: Recipe, files: Record<string, string>, update: { merge?: Json; reset?: string[] } = {}): Installed {
    const name = recipe.ComponentName;
    const version = recipe.ComponentVersion;
    const manifest = selectManifest(recipe);
    const artifactsPath = this.artifactsPath(name, version);
    const decompressedPath = this.decompressedPath(name, version);
    mkdirSync(artifactsPath, { recursive: true });
    mkdirSync(decompressedPath, { recursive: true });
    for (const a of manifest.Artifacts ?? []) {
      const file = basename(new URL(a.URI).pathname);
      const local = files[file];
      if (!local) throw new NucleusError('ARTIFACT_NOT_FOUND', `${name}@${version}: no file given for ${a.URI}`);
      const target = join(artifactsPath, file);
      copyFileSync(local, target);
      this.ownerOnly(target);
      if (a.Unarchive === 'ZIP') this.unzip(target, join(decompressedPath, file.replace(/\.[^.]*$/, '')), `${name}@${version}`);
      this.applyPermission(target, a.Permission);
      if (a.Unarchive === 'ZIP') this.applyPermission(join(decompressedPath, file.replace(/\.[^.]*$/, '')), a.Permission);
    }
    const workPath = this.workPath(name);
    mkdirSync(workPath, { recursive: true });
    chownSync(workPath, this.user.uid, this.user.gid);
    chmodSync(workPath, 0o700);

    const previous = this.components.get(name)?.configuration;
    let configuration: Json = previous ?? structuredClone((recipe.ComponentConfiguration?.DefaultConfiguration ?? {}) as Json);
    for (const pointer of update.reset ?? []) {
      const fallback = jsonPointer((recipe.ComponentConfiguration?.DefaultConfiguration ?? {}) as Json, pointer);
      configuration = pointer === '' ? structuredClone(fallback ?? {}) : setPointer(configuration, pointer, fallback);
    }
    if (update.merge !== undefined) configuration = mergeConfiguration(configuration, update.merge);

    const installed: Installed = { recipe, configuration, artifactsPath, decompressedPath, workPath, lifecycle: {} };
    installed.lifecycle = this.interpolate(manifest.Lifecycle ?? {}, installed) as Record<string, unknown>;
    this.components.set(name, installed);
    return installed;
  }

  /** Run one lifecycle step to its end (Install, Shutdown, ...); undefined when the recipe has none. */
  async runStep(name: string, step: string, timeoutMs?: number): Promise<StepResult | undefined> {
    const child = this.spawnStep(name, step);
    if (!child) return undefined;
    const defaultSec = 120;
    const seconds = typeof this.stepOf(name, step) === 'object' ? (this.stepOf(name, step) as { Timeout?: number }).Timeout ?? defaultSec : defaultSec;
    const limit = timeoutMs ?? seconds * 1000;
    return await new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), limit);
      child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, output: child.output() }); });
    });
  }

  /** Start the Run step and keep it; the handle's output() is its stdout and stderr so far. */
  startRun(name: string): ChildProcess & { output: () => string } {
    const child = this.spawnStep(name, 'run');
    assert.ok(child, `${name} has no Run step`);
    this.running.set(name, child);
    return child;
  }

  /** Stop a component as the nucleus does: Shutdown to its end, then kill what is left of Run. */
  async stop(name: string): Promise<{ shutdown: StepResult | undefined; runExitedDuringShutdown: boolean; run: StepResult | undefined }> {
    const run = this.running.get(name);
    const runExit = run && run.exitCode === null && run.signalCode === null
      ? new Promise<StepResult>((resolve) => run.on('exit', (code, signal) => resolve({ code, signal, output: run.output() })))
      : undefined;
    const shutdown = await this.runStep(name, 'shutdown');
    const runExitedDuringShutdown = !run || run.exitCode !== null || run.signalCode !== null;
    if (run && !runExitedDuringShutdown) {
      run.kill('SIGTERM');
      const t = setTimeout(() => run.kill('SIGKILL'), 5000);
      await runExit;
      clearTimeout(t);
    }
    this.running.delete(name);
    return { shutdown, runExitedDuringShutdown, run: run ? (await runExit) ?? { code: run.exitCode, signal: run.signalCode, output: run.output() } : undefined };
  }

  /** The interpolated lifecycle entry for a step, whatever its case in the recipe. */
  stepOf(name: string, step: string): Step | undefined {
    const lifecycle = this.components.get(name)?.lifecycle ?? {};
    const key = Object.keys(lifecycle).find((k) => k.toLowerCase() === step);
    return key ? (lifecycle[key] as Step) : undefined;
  }

  private spawnStep(name: string, step: string): (ChildProcess & { output: () => string }) | undefined {
    const installed = this.components.get(name);
    assert.ok(installed, `${name} is not deployed`);
    const entry = this.stepOf(name, step);
    if (entry === undefined) return undefined;
    const script = typeof entry === 'string' ? entry : entry.Script;
    const privileged = typeof entry === 'object' && entry.RequiresPrivilege === true;
    const setenv = { ...(installed.lifecycle.Setenv as Record<string, string> | undefined), ...(typeof entry === 'object' ? entry.Setenv : undefined) };
    // What sudo -n -E -H leaves: the nucleus's environment plus the component's variables, HOME of the target user.
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: privileged ? '/root' : this.user.home,
      AWS_IOT_THING_NAME: this.thingName,
      GGC_VERSION: '2.18.0',
      SVCUID: 'test-svcuid',
      ...setenv,
    };
    const child = spawn('sh', ['-c', script], {
      cwd: installed.workPath,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(privileged ? {} : { uid: this.user.uid, gid: this.user.gid }),
    }) as ChildProcess & { output: () => string };
    let out = '';
    child.stdout!.on('data', (d) => (out = (out + d).slice(-64_000)));
    child.stderr!.on('data', (d) => (out = (out + d).slice(-64_000)));
    child.output = () => out;
    return child;
  }

  private interpolate(value: unknown, installed: Installed): unknown {
    if (typeof value === 'string') return this.replace(value, installed);
    if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.interpolate(v, installed)]));
    return value;
  }

  private replace(text: string, self: Installed): string {
    const system = (c: Installed, ns: string, key: string): string | undefined => {
      const table: Record<string, Record<string, string>> = {
        artifacts: { path: c.artifactsPath, decompressedPath: c.decompressedPath },
        work: { path: c.workPath },
        kernel: { rootPath: this.root },
        iot: { thingName: this.thingName },
      };
      return table[ns]?.[key];
    };
    const config = (c: Installed, pointer: string): string | undefined => {
      const node = jsonPointer(c.configuration, pointer);
      if (node === undefined) return undefined;
      return isObject(node) || Array.isArray(node) ? nucleusJson(node) : node === null ? 'null' : String(node);
    };
    let out = text;
    for (const m of text.matchAll(/\{([.\w]+):([^:}]+)\}/g)) {
      const [whole, ns, key] = m as unknown as [string, string, string];
      const value = ns === 'configuration' ? config(self, key) : system(self, ns, key);
      if (value !== undefined) out = out.replace(whole, value);
    }
    for (const m of out.matchAll(/\{([.\w]+):([.\w]+):([^:}]+)\}/g)) {
      const [whole, component, ns, key] = m as unknown as [string, string, string, string];
      if (!(component in (self.recipe.ComponentDependencies ?? {}))) continue;
      const target = this.components.get(component);
      if (!target) continue;
      const value = ns === 'configuration' ? config(target, key) : system(target, ns, key);
      if (value !== undefined) out = out.replace(whole, value);
    }
    return out;
  }

  private ownerOnly(path: string): void {
    chownSync(path, 0, 0);
    chmodSync(path, statSync(path).isDirectory() ? 0o700 : 0o400);
  }

  /** Java's ZipFile: a ZIP or IO_UNZIP_ERROR; entries become owner-only files with no execute bit. */
  private unzip(zip: string, into: string, component: string): void {
    const fd = openSync(zip, 'r');
    const magic = Buffer.alloc(4);
    readSync(fd, magic, 0, 4, 0);
    closeSync(fd);
    if (!magic.equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) {
      throw new NucleusError('IO_UNZIP_ERROR', `${component}: ${basename(zip)} is not a ZIP archive (it starts with ${magic.toString('hex')})`);
    }
    mkdirSync(into, { recursive: true });
    const r = spawnSync('unzip', ['-q', '-o', zip, '-d', into], { encoding: 'utf8' });
    if (r.status !== 0) throw new NucleusError('IO_UNZIP_ERROR', `${component}: ${r.stderr}`);
    // unzip restores the stored modes; the nucleus does not.
    spawnSync('chmod', ['-R', 'u=rwX,go=', into]);
    spawnSync('find', [into, '-type', 'f', '-exec', 'chmod', 'u=r', '{}', '+']);
    spawnSync('chown', ['-R', '0:0', into]);
  }

  /** Permission: Read/Execute for OWNER (the nucleus) or ALL; directories opened to readers are traversable. */
  private applyPermission(path: string, permission: { Read?: string; Execute?: string } | undefined): void {
    const read = permission?.Read ?? 'OWNER';
    const exec = permission?.Execute ?? 'NONE';
    const mode = (dir: boolean) => {
      let m = dir ? 0o700 : 0o400;
      if (read === 'ALL') m |= dir ? 0o055 : 0o044;
      if (exec === 'OWNER' && !dir) m |= 0o100;
      if (exec === 'ALL' && !dir) m |= 0o111;
      return m;
    };
    const walk = (p: string) => {
      const dir = statSync(p).isDirectory();
      chmodSync(p, mode(dir));
      if (dir) for (const e of readdirSync(p)) walk(join(p, e));
    };
    walk(path);
  }
}

function setPointer(doc: Json, pointer: string, value: Json | undefined): Json {
  const out = structuredClone(doc) as Record<string, Json>;
  const keys = pointer.split('/').slice(1);
  let node: Record<string, Json> = out;
  for (const k of keys.slice(0, -1)) node = (isObject(node[k]) ? node[k] : (node[k] = {})) as Record<string, Json>;
  const last = keys.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = structuredClone(value);
  return out;
}
