// Config enters here, once: read, parse, validate against the schema, apply env overrides,
// resolve paths. Everything after this sees a typed, complete Config.
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { LinesightError } from '../errors.js';
import { schemaProblems } from '../schema-problems.js';
import { bundledModelsDir, bundledSamplesDir } from '../paths.js';
import { ConfigSchema, type Config } from './schema.js';
import { parseUsersDocument } from './mqtt-users.js';
import { parseOpcUaUsersDocument } from './opcua-users.js';
import { cloudConfigProblems } from './cloud-topics.js';
import { decodeConfig, parseYaml, readConfigBytes } from './parse.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, discriminator: true, strict: false, verbose: true });
const validate = ajv.compile<Config>(ConfigSchema);

export type Env = Record<string, string | undefined>;

export const GREENGRASS_SOCKET_ENV = 'AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT';
export const GREENGRASS_TOKEN_ENV = 'SVCUID';

/** Secrets and the broker URL may come from the environment, so config files need not hold them. */
const envOverrides: Array<[string, (c: Config, v: string) => void]> = [
  ['LINESIGHT_MQTT_URL', (c, v) => (c.mqtt.url = v)],
  ['LINESIGHT_MQTT_USERNAME', (c, v) => (c.mqtt.username = v)],
  ['LINESIGHT_MQTT_PASSWORD', (c, v) => (c.mqtt.password = v)],
  // The embedded broker's users as YAML or JSON (a list, or {users: [...]}), replacing mqtt.embedded.users.
  ['LINESIGHT_MQTT_USERS', (c, v) => (c.mqtt.embedded.users = parseUsersDocument(v, 'LINESIGHT_MQTT_USERS'))],
  // OPC UA users (a list, or {users: [...]}), replacing opcua.users.
  ['LINESIGHT_OPCUA_USERS', (c, v) => (c.opcua.users = parseOpcUaUsersDocument(v, 'LINESIGHT_OPCUA_USERS'))],
  ['LINESIGHT_API_TOKEN', (c, v) => (c.api.token = v)],
  ['LINESIGHT_CLOUD_URL', (c, v) => (c.cloud.url = v)],
  ['LINESIGHT_CLOUD_THING_NAME', (c, v) => (c.cloud.thingName = v)],
  // PEM text itself (secrets managers hand out contents, not files).
  ['LINESIGHT_CLOUD_CA', (c, v) => (c.cloud.tls.caPem = v)],
  ['LINESIGHT_CLOUD_CERT', (c, v) => (c.cloud.tls.certPem = v)],
  ['LINESIGHT_CLOUD_KEY', (c, v) => (c.cloud.tls.privateKey = v)],
  ['LINESIGHT_CLOUD_TRANSPORT', (c, v) => (c.cloud.transport = v as Config['cloud']['transport'])],
  // What the Greengrass nucleus sets for each component it runs: its IPC socket and the component's token.
  [GREENGRASS_SOCKET_ENV, (c, v) => (c.cloud.greengrassIpc = { ...c.cloud.greengrassIpc, socketPath: v })],
  [GREENGRASS_TOKEN_ENV, (c, v) => (c.cloud.greengrassIpc = { ...c.cloud.greengrassIpc, authToken: v })],
  // Credentials of the evidence bucket; only where evidence.s3 is configured.
  ['LINESIGHT_S3_ACCESS_KEY_ID', (c, v) => c.evidence.s3 && (c.evidence.s3.accessKeyId = v)],
  ['LINESIGHT_S3_SECRET_ACCESS_KEY', (c, v) => c.evidence.s3 && (c.evidence.s3.secretAccessKey = v)],
  // Where the deployment engine gives the service room to write (a Greengrass work path, a
  // container volume), which the config file's author cannot know.
  ['LINESIGHT_STATE_DIR', (c, v) => (c.state.directory = v)],
  ['LINESIGHT_MODELS_DIR', (c, v) => (c.models.directory = v)],
  // Inside a container the API and the embedded broker must listen on every interface for a
  // published port to reach them (the image sets 0.0.0.0); on a host, loopback stays the default.
  ['LINESIGHT_LISTEN_HOST', (c, v) => { c.api.host = v; c.mqtt.embedded.host = v; }],
];

export const DEMO_MODEL = 'label-orientation';

/** The embedded default: the bundled model inspects the bundled sample parts at 10 parts/s. */
export function defaultConfigInput(): Record<string, unknown> {
  return {
    line: 'demo-line',
    stations: [
      {
        id: 'cam1',
        source: { type: 'replay', path: resolve(bundledSamplesDir, DEMO_MODEL), ratePerSec: 10, loop: true },
        model: DEMO_MODEL,
      },
    ],
  };
}

/** Every problem in `raw`, one line each, naming the path, the value and what was expected. */
export function configProblems(raw: unknown): { config?: Config; problems: string[] } {
  if (validate(raw)) return { config: raw, problems: [] };
  return { problems: schemaProblems(validate.errors, raw) };
}

function resolveFrom(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

/**
 * Validate a parsed config object. `baseDir` resolves relative paths; `origin` names the
 * config in errors.
 */
export function buildConfig(raw: unknown, options: { origin: string; baseDir: string; env?: Env }): Config {
  const { config, problems } = configProblems(raw);
  if (!config) {
    throw new LinesightError('LS_ERR_CONFIG_INVALID', `${options.origin}:\n  ${problems.join('\n  ')}`);
  }
  const env = options.env ?? {};
  for (const [name, apply] of envOverrides) {
    const v = env[name];
    if (v !== undefined && v !== '') apply(config, v);
  }
  // Overrides are checked too: a bad env value must fail like a bad file value.
  const recheck = configProblems(config);
  if (recheck.problems.length) {
    throw new LinesightError('LS_ERR_CONFIG_INVALID', `${options.origin} (after environment overrides):\n  ${recheck.problems.join('\n  ')}`);
  }
  config.models.directory = config.models.directory ? resolveFrom(options.baseDir, config.models.directory) : bundledModelsDir;
  config.models.publicKeys = config.models.publicKeys.map((k) => resolveFrom(options.baseDir, k));
  config.state.directory = resolveFrom(options.baseDir, config.state.directory);
  config.evidence.directory = config.evidence.directory ? resolveFrom(options.baseDir, config.evidence.directory) : resolve(config.state.directory, 'evidence');
  config.opcua.pkiDirectory = config.opcua.pkiDirectory ? resolveFrom(options.baseDir, config.opcua.pkiDirectory) : resolve(config.state.directory, 'opcua-pki');
  resolveMqttPaths(config.mqtt, (p) => resolveFrom(options.baseDir, p));
  for (const k of ['ca', 'cert', 'key'] as const) {
    const file = config.cloud.tls[k];
    if (file) config.cloud.tls[k] = resolveFrom(options.baseDir, file);
  }
  config.cloud.outbox.path = config.cloud.outbox.path ? resolveFrom(options.baseDir, config.cloud.outbox.path) : resolve(config.state.directory, 'cloud-outbox.db');
  for (const station of config.stations) {
    if (station.source.type === 'replay') station.source.path = resolveFrom(options.baseDir, station.source.path);
    // A video file named relative to the config file, like every other path in it.
    if (station.source.type === 'ffmpeg' && !/^[a-z][a-z0-9+.-]*:/i.test(station.source.url)) {
      station.source.url = resolveFrom(options.baseDir, station.source.url);
    }
  }
  const ids = new Set<string>();
  for (const [i, s] of config.stations.entries()) {
    if (ids.has(s.id)) throw new LinesightError('LS_ERR_CONFIG_INVALID', `${options.origin}:\n  stations[${i}].id: got "${s.id}", expected an id not used by another station`);
    ids.add(s.id);
  }
  const ipcProblem = greengrassIpcProblem(config);
  if (ipcProblem) throw new LinesightError('LS_ERR_CONFIG_INVALID', `${options.origin}:\n  ${ipcProblem}`);
  // The thing name fills {thing}; it is part of the `cloud` connection keys (absent: the longest one allowed is assumed).
  const topicProblems = cloudConfigProblems(config, config.cloud.thingName);
  if (topicProblems.length) throw new LinesightError('LS_ERR_CONFIG_INVALID', `${options.origin}:\n  ${topicProblems.join('\n  ')}`);
  return config;
}

/**
 * The Greengrass IPC transport needs what only the nucleus hands out: without it the publisher
 * could only retry forever, so the start stops here, naming the key and the variable.
 */
function greengrassIpcProblem(config: Config): string | null {
  const { cloud } = config;
  if (!cloud.enabled || cloud.transport !== 'greengrass-ipc') return null;
  const missing = [
    cloud.greengrassIpc?.socketPath ? null : `cloud.greengrassIpc.socketPath (${GREENGRASS_SOCKET_ENV})`,
    cloud.greengrassIpc?.authToken ? null : `cloud.greengrassIpc.authToken (${GREENGRASS_TOKEN_ENV})`,
  ].filter((m): m is string => m !== null);
  if (missing.length === 0) return null;
  return `cloud.transport: got "greengrass-ipc", expected the Greengrass nucleus's IPC socket and token, which it sets in the environment of a component it runs; missing: ${missing.join(', ')}. Run Linesight as a Greengrass component, or set cloud.transport to "mqtt"`;
}

/** Files named under `mqtt` (users, TLS material), resolved like every other path in the config. */
function resolveMqttPaths(mqtt: Config['mqtt'], resolvePath: (p: string) => string): void {
  const e = mqtt.embedded;
  if (e.usersFile) e.usersFile = resolvePath(e.usersFile);
  if (e.tls) {
    e.tls.cert = resolvePath(e.tls.cert);
    e.tls.key = resolvePath(e.tls.key);
    if (e.tls.ca) e.tls.ca = resolvePath(e.tls.ca);
  }
  const t = mqtt.tls;
  if (t?.ca) t.ca = resolvePath(t.ca);
  if (t?.cert) t.cert = resolvePath(t.cert);
  if (t?.key) t.key = resolvePath(t.key);
}

/**
 * Parse YAML text into a plain value. Every way the text can be wrong ends in one
 * LS_ERR_CONFIG_PARSE naming `origin`, the line and column, and the problem.
 */
export function parseConfigText(text: string, origin: string): unknown {
  return parseYaml(text, origin);
}

/** Read, decode and parse a config file, then validate it. Never reads more than MAX_CONFIG_BYTES (1 MiB). */
export function loadConfigFile(file: string, env: Env = {}): Config {
  const text = decodeConfig(readConfigBytes(file), file);
  return buildConfig(parseYaml(text, file), { origin: file, baseDir: dirname(resolve(file)), env });
}

export function loadDefaultConfig(env: Env = {}): Config {
  return buildConfig(defaultConfigInput(), { origin: '<embedded default>', baseDir: process.cwd(), env });
}
