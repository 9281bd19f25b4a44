// The one schema for linesight.yaml: validation, TypeScript types, defaults and the README's
// config reference all come from here (Frigate's pydantic config, in JSON Schema).
import { Type, type Static, type TSchema, type TObject } from '@sinclair/typebox';

/** A union chosen by its `type` field, so a bad source reports errors of that kind only. */
function byType<T extends TObject[]>(variants: [...T], options: { title: string; description: string }) {
  return Type.Unsafe<Static<ReturnType<typeof Type.Union<T>>>>({
    ...options,
    type: 'object',
    oneOf: variants,
    discriminator: { propertyName: 'type' },
    required: ['type'],
  });
}

/** A string enum as JSON Schema `enum`, so a wrong value reports the allowed ones in one line. */
export function OneOf<const T extends string>(values: readonly T[], options: { title: string; description: string; default?: NoInfer<T> }) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
}

const Id = (title: string, description: string, def?: string) =>
  Type.String({ title, description, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', maxLength: 64, ...(def ? { default: def } : {}) });

export const actions = ['reject', 'accept'] as const;
export type Action = (typeof actions)[number];

export const ReplaySourceConfig = Type.Object(
  {
    type: Type.Literal('replay', { title: 'Type', description: 'Replays image files (JPEG/PNG) from a directory, sorted by name.' }),
    path: Type.String({ title: 'Path', description: 'Directory of images (or one image file); relative paths are resolved against the config file.', minLength: 1 }),
    ratePerSec: Type.Number({ title: 'Rate', description: 'Frames per second to emit.', exclusiveMinimum: 0, maximum: 1000, default: 10 }),
    loop: Type.Boolean({ title: 'Loop', description: 'Start again after the last image; false stops the source after one pass.', default: true }),
  },
  { additionalProperties: false },
);

export const SourceConfig = byType([ReplaySourceConfig], {
  title: 'Source',
  description: 'Where the station gets frames, chosen by `type`.',
});

export const ThresholdsConfig = Type.Object(
  {
    pass: Type.Number({ title: 'Pass threshold', description: 'Minimum probability of the pass labels for a pass verdict.', minimum: 0, maximum: 1 }),
    fail: Type.Number({ title: 'Fail threshold', description: 'Minimum probability of the fail labels for a fail verdict.', minimum: 0, maximum: 1 }),
  },
  { additionalProperties: false, title: 'Thresholds', description: 'Overrides the model manifest thresholds for this station.' },
);

export const StationConfig = Type.Object(
  {
    id: Id('Camera id', 'Station (camera) id; used in MQTT topics and metrics labels.'),
    source: SourceConfig,
    model: Type.String({
      title: 'Model',
      description: 'Model name in the models directory, optionally pinned as name@version; without a version the highest version is used.',
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*(@[A-Za-z0-9][A-Za-z0-9_.+-]*)?$',
    }),
    budgetMs: Type.Integer({ title: 'Budget', description: 'Milliseconds from capture to verdict; a part not decided by then gets a `timeout` verdict.', minimum: 1, maximum: 60000, default: 100 }),
    failSafe: OneOf(actions, { title: 'Fail-safe', description: 'Action for `timeout` and `error` verdicts.', default: 'reject' }),
    uncertainAction: OneOf(actions, { title: 'Uncertain action', description: 'Action for `uncertain` verdicts.', default: 'reject' }),
    thresholds: Type.Optional(ThresholdsConfig),
    maxQueue: Type.Integer({ title: 'Max queue', description: 'Free-run only: unstarted frames kept per station; beyond this the oldest is shed and counted.', minimum: 1, maximum: 1000, default: 4 }),
  },
  { additionalProperties: false },
);

export const MqttConfig = Type.Object(
  {
    url: Type.Optional(Type.String({ title: 'Broker URL', description: 'External broker (mqtt://, mqtts://, ws://). Without it Linesight starts its embedded broker. Env: LINESIGHT_MQTT_URL.', pattern: '^(mqtts?|wss?|tcp|ssl)://' })),
    embedded: Type.Object(
      {
        host: Type.String({ title: 'Host', description: 'Address the embedded broker listens on.', default: '127.0.0.1' }),
        port: Type.Integer({ title: 'Port', description: 'Port of the embedded broker; 0 picks a free one.', minimum: 0, maximum: 65535, default: 1883 }),
      },
      { additionalProperties: false, default: {}, title: 'Embedded broker', description: 'Used when no url is set.' },
    ),
    topicPrefix: Type.String({ title: 'Topic prefix', description: 'Prefix of every topic.', default: 'linesight/v1', pattern: '^[^#+]+$' }),
    clientIdPrefix: Type.String({ title: 'Client id prefix', description: 'MQTT client ids are <prefix>-<line>-<camera>.', default: 'linesight' }),
    username: Type.Optional(Type.String({ title: 'Username', description: 'Env: LINESIGHT_MQTT_USERNAME.' })),
    password: Type.Optional(Type.String({ title: 'Password', description: 'Env: LINESIGHT_MQTT_PASSWORD.' })),
  },
  { additionalProperties: false, default: {}, title: 'Local MQTT', description: 'Where verdicts go for PLCs, reject gates and SCADA.' },
);

export const ApiConfig = Type.Object(
  {
    enabled: Type.Boolean({ title: 'Enabled', description: 'Serve the HTTP API.', default: true }),
    host: Type.String({ title: 'Host', description: 'Listen address.', default: '127.0.0.1' }),
    port: Type.Integer({ title: 'Port', description: 'Listen port; 0 picks a free one.', minimum: 0, maximum: 65535, default: 8080 }),
    token: Type.Optional(Type.String({ title: 'Token', description: 'Bearer token for mutating routes. Env: LINESIGHT_API_TOKEN.', minLength: 16 })),
  },
  { additionalProperties: false, default: {}, title: 'HTTP API', description: 'Health, readiness and Prometheus metrics.' },
);

export const InferenceConfig = Type.Object(
  {
    workers: Type.Integer({ title: 'Workers', description: 'Inference worker threads; size it with `npm run bench`.', minimum: 1, maximum: 64, default: 2 }),
    intraOpThreads: Type.Integer({ title: 'Intra-op threads', description: 'Threads each worker gives one inference.', minimum: 1, maximum: 64, default: 1 }),
    executionProviders: Type.Array(
      OneOf(['cpu', 'cuda', 'tensorrt'] as const, { title: 'Provider', description: 'An ONNX Runtime execution provider.' }),
      { title: 'Execution providers', description: 'ONNX Runtime providers in order of preference; unavailable ones are skipped and the chosen one is logged.', minItems: 1, uniqueItems: true, default: ['cpu'] },
    ),
    graphOptimization: OneOf(['disabled', 'basic', 'extended', 'all'] as const, {
      title: 'Graph optimisation', description: 'ONNX Runtime graph optimisation level.', default: 'all',
    }),
  },
  { additionalProperties: false, default: {}, title: 'Inference', description: 'The worker pool.' },
);

export const ConfigSchema = Type.Object(
  {
    line: Id('Line', 'Production line id; first level of MQTT topics.', 'line-1'),
    log: Type.Object(
      {
        level: OneOf(['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const, { title: 'Level', description: 'Log level.', default: 'info' }),
        format: OneOf(['text', 'json'] as const, { title: 'Format', description: 'text for people, json for log shippers.', default: 'text' }),
      },
      { additionalProperties: false, default: {}, title: 'Logging', description: 'Logs go to stderr.' },
    ),
    models: Type.Object(
      {
        directory: Type.Optional(Type.String({ title: 'Directory', description: 'Models directory (<name>/<version>/manifest.json); defaults to the bundled models/.' })),
      },
      { additionalProperties: false, default: {}, title: 'Models', description: 'Where model versions live.' },
    ),
    stations: Type.Array(StationConfig, {
      title: 'Stations',
      description: 'One station per camera: its source, model and budget. (`linesight run` without --config runs the bundled demo station.)',
      minItems: 1,
    }),
    mqtt: MqttConfig,
    api: ApiConfig,
    inference: InferenceConfig,
    summary: Type.Object(
      { intervalMs: Type.Integer({ title: 'Interval', description: 'Milliseconds between console summary lines; 0 turns them off.', minimum: 0, default: 5000 }) },
      { additionalProperties: false, default: {}, title: 'Console summary', description: 'Periodic one-line summary on stdout.' },
    ),
    shutdown: Type.Object(
      { drainTimeoutMs: Type.Integer({ title: 'Drain timeout', description: 'On SIGINT/SIGTERM, how long to wait for in-flight parts and unacknowledged messages.', minimum: 0, default: 5000 }) },
      { additionalProperties: false, default: {}, title: 'Shutdown', description: 'Graceful stop.' },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type StationConfig = Static<typeof StationConfig>;
export type SourceConfig = StationConfig['source'];
export type ReplaySourceConfig = Static<typeof ReplaySourceConfig>;
export type InferenceConfig = Static<typeof InferenceConfig>;
export type MqttConfig = Static<typeof MqttConfig>;
export type ApiConfig = Static<typeof ApiConfig>;

export type { TSchema };
