// The Greengrass components as a nucleus would run them (test/helpers/greengrass-nucleus.ts holds
// the nucleus's rules): the ZIP built by deploy/greengrass/build-artifact.mjs, the recipes as
// shipped, Install then Run as a non-root user, /readyz; a model component's new version delivered
// the same way and swapped in by the running service without a restart; Shutdown drains.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse as parseYamlText } from 'yaml';
import { MiniNucleus, NucleusError, parseRecipe, type PosixUser, type Recipe } from '../helpers/greengrass-nucleus.js';
import { freePort, repo } from '../helpers/env.js';
import { buildConfig } from '../../src/config/load.js';
import { fillTopic } from '../../src/config/cloud-topics.js';
import { cloudEventKinds } from '../../src/publish/cloud-messages.js';
import { verdictKinds } from '../../src/verdict.js';
import { mqttProxyPolicies, policiesAllow } from '../helpers/fake-nucleus-ipc.js';
import { makeVersion } from '../helpers/model-versions.js';

const ggDir = join(repo, 'deploy', 'greengrass');
const inspectorFile = join(ggDir, 'com.linesight.Inspector.recipe.yaml');
const modelFile = join(ggDir, 'com.linesight.Model.LabelOrientation.recipe.yaml');
const recipeOf = (file: string) => parseRecipe(readFileSync(file, 'utf8'), file);

const isRoot = process.getuid?.() === 0;
const notRoot = 'the nucleus starts components as another user; that needs root here (run the suite as root, as CI does)';
const componentUser = 'lsggc';

let work = '';
let zip = '';
let user: PosixUser | undefined;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'linesight-gg-'));
  chmodSync(work, 0o755);
  if (!isRoot) return;
  if (spawnSync('id', ['-u', componentUser]).status !== 0) {
    execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', componentUser]);
  }
  const id = (flag: string) => Number(execFileSync('id', [flag, componentUser], { encoding: 'utf8' }).trim());
  user = { name: componentUser, uid: id('-u'), gid: id('-g'), home: '/nonexistent' };
  // The artifact from a clean copy of the sources, with this checkout's installed packages.
  zip = join(work, 'linesight.zip');
  execFileSync(process.execPath, [join(ggDir, 'build-artifact.mjs'), '--node-modules', join(repo, 'node_modules'), '--out', zip], { stdio: ['ignore', 'ignore', 'inherit'] });
});

after(() => rmSync(work, { recursive: true, force: true }));

test('both recipes follow the documented recipe fields; one lifecycle for every platform; no step runs as root', () => {
  const inspector = recipeOf(inspectorFile);
  const model = recipeOf(modelFile);
  assert.deepEqual(inspector.Manifests.map((m) => m.Platform?.architecture), ['amd64', 'aarch64']);
  assert.deepEqual(inspector.Manifests[1]!.Lifecycle, inspector.Manifests[0]!.Lifecycle, 'amd64 and aarch64 run the same steps');
  for (const r of [inspector, model]) {
    for (const m of r.Manifests) {
      for (const a of m.Artifacts ?? []) assert.equal(a.Permission?.Read, 'ALL', `${r.ComponentName}: ${a.URI} must be readable by the component user`);
      for (const [step, v] of Object.entries(m.Lifecycle ?? {})) {
        assert.ok(typeof v !== 'object' || (v as { RequiresPrivilege?: boolean }).RequiresPrivilege !== true, `${r.ComponentName} ${step} runs as root`);
      }
    }
  }
  assert.ok('com.linesight.Inspector' in (model.ComponentDependencies ?? {}), 'the model component may name the service\'s work path only as a dependency');
  // The service's configuration is the Linesight config and validates as one.
  const cfg = inspector.ComponentConfiguration?.DefaultConfiguration?.linesight;
  const asWritten = join(work, 'default-config.yaml');
  writeFileSync(asWritten, JSON.stringify(cfg));
  const r = spawnSync(process.execPath, [join(repo, 'dist', 'src', 'cli.js'), 'check-config', asWritten], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('the cloud goes through the nucleus by default, and the access policy covers every topic Linesight publishes to', () => {
  const inspector = recipeOf(inspectorFile);
  const defaults = inspector.ComponentConfiguration!.DefaultConfiguration! as Record<string, unknown>;
  const setenv = (inspector.Manifests[0]!.Lifecycle as { Setenv: Record<string, string> }).Setenv;
  assert.equal(setenv['LINESIGHT_CLOUD_TRANSPORT'], '{configuration:/cloudTransport}');
  assert.equal(defaults['cloudTransport'], 'greengrass-ipc');
  const thing = 'line-7-box-1';
  // The environment the nucleus gives the Run step: Setenv interpolated, plus its IPC socket and token.
  const env = {
    LINESIGHT_CLOUD_TRANSPORT: defaults['cloudTransport'] as string,
    LINESIGHT_CLOUD_THING_NAME: thing,
    AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: '/greengrass/v2/ipc.socket',
    SVCUID: 'a-token',
  };
  const linesight = defaults['linesight'] as Record<string, Record<string, unknown>>;
  const config = buildConfig({ ...linesight, cloud: { ...linesight['cloud'], enabled: true } }, { origin: 'recipe', baseDir: work, env });
  assert.equal(config.cloud.transport, 'greengrass-ipc');
  // As the nucleus resolves it with interpolateComponentConfiguration (README: "Cloud through the nucleus").
  const policies = mqttProxyPolicies(defaults['accessControl'], thing);
  assert.ok(policies.length > 0, 'an aws.greengrass.ipc.mqttproxy policy');
  const { topics } = config.cloud.send;
  const published: string[] = [];
  for (const station of config.stations.map((s) => s.id).concat('a-station-added-later')) {
    const values = { line: config.line, station, thing: config.cloud.thingName };
    for (const verdict of verdictKinds) published.push(fillTopic(topics.verdict, { ...values, verdict }));
    for (const event of cloudEventKinds) published.push(fillTopic(topics.event, { ...values, event }));
    published.push(fillTopic(topics.summary, values));
  }
  for (const topic of published) assert.ok(policiesAllow(policies, 'aws.greengrass#PublishToIoTCore', topic), `${topic} is not allowed by the recipe's accessControl`);
  // Scoped to this thing: another box's topics are not this component's to publish.
  assert.ok(!policiesAllow(policies, 'aws.greengrass#PublishToIoTCore', published[0]!.replace(thing, 'another-box')));
  assert.ok(!policiesAllow(policies, 'aws.greengrass#SubscribeToIoTCore', published[0]!), 'publish only');
});

test('the recipe as first shipped, linesight.tgz marked ZIP, is refused: by the schema, and by the unzip as in the nucleus', (t) => {
  const shipped = parseYamlText(readFileSync(inspectorFile, 'utf8')) as Recipe;
  shipped.Manifests[0]!.Artifacts![0]!.URI = 's3://YOUR-BUCKET/linesight/0.1.0/linesight.tgz';
  assert.throws(() => parseRecipe(JSON.stringify(shipped), 'tgz recipe'), (e: NucleusError) => e.code === 'RECIPE_INVALID' && /URI.*pattern.*\\\.zip\$/.test(e.message));
  if (!isRoot) return t.skip(notRoot);
  const tgz = join(work, 'linesight.tgz');
  execFileSync('tar', ['-czf', tgz, '-C', repo, 'package.json']);
  const nucleus = new MiniNucleus(join(work, 'tgz-root'), user!, 'line-7-box-1');
  assert.throws(() => nucleus.prepare(shipped, { 'linesight.tgz': tgz }), (e: NucleusError) => e.code === 'IO_UNZIP_ERROR');
});

test('Install then Run as a non-root user: ready; a model component\'s new version is swapped in without a restart; Shutdown drains', { timeout: 240_000 }, async (t) => {
  if (!isRoot) return t.skip(notRoot);
  const nucleus = new MiniNucleus(join(work, 'greengrass', 'v2'), user!, 'line-7-box-1');
  const [apiPort, mqttPort] = [await freePort(), await freePort()];
  const token = 'a-token-from-the-deployment-0001';
  // A deployment's configuration update, as the console's "Configuration to merge" would send it.
  const inspector = nucleus.prepare(recipeOf(inspectorFile), { 'linesight.zip': zip }, {
    merge: {
      linesight: { line: 'line-7', api: { port: apiPort }, mqtt: { embedded: { port: mqttPort } }, models: { scanIntervalMs: 200 } },
      apiToken: token,
    },
  });
  assert.equal(inspector.decompressedPath, join(nucleus.root, 'packages', 'artifacts-unarchived', 'com.linesight.Inspector', '0.1.0'));
  assert.ok(existsSync(join(inspector.decompressedPath, 'linesight', 'dist', 'src', 'cli.js')), 'the ZIP unpacks to decompressedPath/linesight/');
  assert.equal(statSync(join(inspector.decompressedPath, 'linesight', 'dist', 'src', 'cli.js')).mode & 0o777, 0o555, 'Permission Read/Execute ALL applied');
  const leftovers = JSON.stringify(inspector.lifecycle).match(/\{[.\w]+:[^}]*\}/g);
  assert.equal(leftovers, null, `placeholders the nucleus would leave as they are: ${leftovers}`);

  const install = await nucleus.runStep('com.linesight.Inspector', 'install');
  assert.equal(install?.code, 0, install?.output);
  const workPath = inspector.workPath;
  assert.equal(statSync(join(workPath, 'linesight.yaml')).uid, user!.uid, 'written by the component user');

  const run = nucleus.startRun('com.linesight.Inspector');
  t.after(() => { if (run.exitCode === null) run.kill('SIGKILL'); });
  const api = `http://127.0.0.1:${apiPort}`;
  await until(async () => (await fetch(`${api}/readyz`).catch(() => undefined))?.status === 200, 90_000, () => `/readyz never answered 200:\n${run.output()}`);
  const pid = Number(readFileSync(join(workPath, 'linesight.pid'), 'utf8'));
  assert.equal(procUid(pid), user!.uid, 'Linesight runs as the component user');
  assert.equal(pid, run.pid, 'Run execs node: the pid Shutdown signals is Linesight\'s');
  const stations = async () => ((await (await fetch(`${api}/stations`)).json()) as { stations: Array<{ id: string; model: { version: string } | null }> }).stations;
  assert.equal((await stations())[0]?.model?.version, '1.0.0');
  // The token came from the configuration through Setenv: a mutating route accepts it.
  const rollback = (bearer: string) => fetch(`${api}/stations/cam1/model/rollback`, { method: 'POST', headers: { authorization: `Bearer ${bearer}` } });
  assert.equal((await rollback('wrong-token-wrong-token')).status, 401);
  assert.notEqual((await rollback(token)).status, 401, 'LINESIGHT_API_TOKEN set from the configuration');

  // A new model version, delivered as a Greengrass component.
  const versionDir = makeVersion(join(work, 'model-src'), '1.1.0');
  const modelZip = join(work, 'model-zip', 'label-orientation.zip');
  mkdirSync(join(work, 'model-zip'));
  execFileSync('zip', ['-q', '-r', '-X', modelZip, '.'], { cwd: versionDir });
  nucleus.prepare(recipeOf(modelFile), { 'label-orientation.zip': modelZip, 'install-model.sh': join(ggDir, 'install-model.sh') });
  const modelInstall = await nucleus.runStep('com.linesight.Model.LabelOrientation', 'install');
  assert.equal(modelInstall?.code, 0, modelInstall?.output);
  assert.ok(existsSync(join(workPath, 'models', 'label-orientation', '1.1.0', 'manifest.json')), 'installed into the service\'s models directory');
  await until(async () => (await stations())[0]?.model?.version === '1.1.0', 60_000, () => `the service never switched to 1.1.0:\n${run.output().slice(-4000)}`);
  assert.equal(run.exitCode, null, 'no restart: the Run process is the same');
  assert.equal(Number(readFileSync(join(workPath, 'linesight.pid'), 'utf8')), pid);
  assert.equal((await fetch(`${api}/readyz`)).status, 200);

  const stopped = await nucleus.stop('com.linesight.Inspector');
  assert.equal(stopped.shutdown?.code, 0, stopped.shutdown?.output);
  assert.ok(stopped.runExitedDuringShutdown, 'Shutdown returned only once Linesight had exited (the nucleus kills what is left)');
  assert.equal(stopped.run?.code, 0, `Linesight exited cleanly after draining:\n${stopped.run?.output.slice(-2000)}`);
  assert.match(stopped.run!.output, /stopping: draining in-flight parts/);
  assert.ok(existsSync(join(workPath, 'state', 'active-models.json')), 'state kept in the work path');
  assert.equal(statSync(join(workPath, 'state')).uid, user!.uid);

  // The nucleus re-runs Install only when something under Install changed (anything else in the
  // lifecycle only restarts Run): a new `linesight` configuration must change Install, since
  // Install writes the config file.
  const installBefore = JSON.stringify(nucleus.stepOf('com.linesight.Inspector', 'install'));
  nucleus.prepare(recipeOf(inspectorFile), { 'linesight.zip': zip }, { merge: { linesight: { line: 'line-8' } } });
  assert.notEqual(JSON.stringify(nucleus.stepOf('com.linesight.Inspector', 'install')), installBefore, 'a configuration change reinstalls');
});

function procUid(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'))!;
  return Number(line.split(/\s+/)[1]);
}

async function until(check: () => Promise<boolean>, ms: number, why: () => string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) assert.fail(why());
    await new Promise((r) => setTimeout(r, 200));
  }
}
