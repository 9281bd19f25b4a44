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

const ReconnectConfig = Type.Object(
  {
    initialMs: Type.Integer({ title: 'First retry', description: 'Delay before the first reconnect; doubles per failure (with jitter).', minimum: 10, default: 500 }),
    maxMs: Type.Integer({ title: 'Longest retry', description: 'Upper bound of the reconnect delay.', minimum: 10, default: 30000 }),
    stallMs: Type.Integer({ title: 'Stall watchdog', description: 'No frame for this long while streaming: reconnect.', minimum: 100, default: 5000 }),
    connectMs: Type.Optional(Type.Integer({ title: 'First frame', description: 'How long a new connection may take to give its first frame (at least stallMs); default 10000.', minimum: 100 })),
  },
  { additionalProperties: false, default: {}, title: 'Reconnect', description: 'Reconnect with exponential backoff and a stall watchdog.' },
);

export const FfmpegSourceConfig = Type.Object(
  {
    type: Type.Literal('ffmpeg', { title: 'Type', description: 'A camera or file read by ffmpeg (child process): RTSP, HTTP, V4L2 (/dev/videoN), video files.' }),
    url: Type.String({ title: 'URL', description: 'rtsp://, rtsps://, http(s)://, a V4L2 device (/dev/video0) or a video file path.', minLength: 1 }),
    inputFormat: Type.Optional(Type.String({ title: 'Input format', description: 'ffmpeg -f for the input (e.g. v4l2, mjpeg); guessed when absent.', pattern: '^[a-z0-9_]+$' })),
    inputOptions: Type.Record(Type.String({ pattern: '^[a-z0-9_]+$' }), Type.Union([Type.String(), Type.Number()]), {
      title: 'Input options',
      description: 'Extra ffmpeg input options, e.g. { video_size: 1280x1024, input_format: mjpeg }.',
      default: {},
    }),
    rtspTransport: OneOf(['tcp', 'udp'] as const, { title: 'RTSP transport', description: 'RTP over the RTSP TCP connection, or UDP.', default: 'tcp' }),
    output: OneOf(['jpeg', 'raw'] as const, { title: 'Output', description: 'jpeg: frames piped as JPEG; raw: RGB pixels (needs width and height).', default: 'jpeg' }),
    width: Type.Optional(Type.Integer({ title: 'Width', description: 'Scale frames to this width.', minimum: 1, maximum: 16384 })),
    height: Type.Optional(Type.Integer({ title: 'Height', description: 'Scale frames to this height.', minimum: 1, maximum: 16384 })),
    ratePerSec: Type.Optional(Type.Number({ title: 'Rate', description: 'Cap the frame rate: at most this many frames per second; extra frames are dropped, none duplicated, timestamps kept.', exclusiveMinimum: 0, maximum: 1000 })),
    realtime: Type.Boolean({ title: 'Real time', description: 'Files: read at the native frame rate (-re) instead of as fast as possible.', default: true }),
    loop: Type.Boolean({ title: 'Loop', description: 'Files: start again at the end.', default: false }),
    jpegQuality: Type.Integer({ title: 'JPEG quality', description: 'ffmpeg -q:v for JPEG output, 2 (best) to 31.', minimum: 2, maximum: 31, default: 3 }),
    reconnect: ReconnectConfig,
  },
  { additionalProperties: false },
);

export const GstreamerSourceConfig = Type.Object(
  {
    type: Type.Literal('gstreamer', { title: 'Type', description: 'A GStreamer pipeline (child process gst-launch-1.0): Jetson CSI cameras (nvarguscamerasrc), hardware decode, GigE Vision (aravissrc).' }),
    pipeline: Type.String({ title: 'Pipeline', description: 'gst-launch-1.0 pipeline up to raw video, e.g. "aravissrc camera-name=X ! videoconvert"; Linesight appends the JPEG encoder and the pipe.', minLength: 1 }),
    jpegQuality: Type.Integer({ title: 'JPEG quality', description: 'jpegenc quality, 1 to 100.', minimum: 1, maximum: 100, default: 90 }),
    reconnect: ReconnectConfig,
  },
  { additionalProperties: false },
);

export const MjpegSourceConfig = Type.Object(
  {
    type: Type.Literal('mjpeg', { title: 'Type', description: 'An HTTP MJPEG stream (multipart/x-mixed-replace), read natively.' }),
    url: Type.String({ title: 'URL', description: 'http:// or https:// stream URL.', pattern: '^https?://' }),
    headers: Type.Record(Type.String(), Type.String(), { title: 'Headers', description: 'Extra request headers (e.g. Authorization).', default: {} }),
    reconnect: ReconnectConfig,
  },
  { additionalProperties: false },
);

export const OpencvSourceConfig = Type.Object(
  {
    type: Type.Literal('opencv', { title: 'Type', description: 'OpenCV VideoCapture through the optional @u4/opencv4nodejs addon (built against the system OpenCV).' }),
    device: Type.Union([Type.Integer({ minimum: 0 }), Type.String({ minLength: 1 })], { title: 'Device', description: 'Camera index (0) or a URL/file OpenCV can open.' }),
    width: Type.Optional(Type.Integer({ title: 'Width', description: 'Requested capture width.', minimum: 1 })),
    height: Type.Optional(Type.Integer({ title: 'Height', description: 'Requested capture height.', minimum: 1 })),
    reconnect: ReconnectConfig,
  },
  { additionalProperties: false },
);

export const SourceConfig = byType([ReplaySourceConfig, FfmpegSourceConfig, GstreamerSourceConfig, MjpegSourceConfig, OpencvSourceConfig], {
  title: 'Source',
  description: 'Where the station gets frames, chosen by `type`.',
});

export const TriggerConfig = byType(
  [
    Type.Object(
      {
        type: Type.Literal('free-run', { title: 'Type', description: 'Every frame the camera gives is a part (at most ratePerSec).' }),
        ratePerSec: Type.Optional(Type.Number({ title: 'Rate', description: 'Inspect at most this many frames per second; others are skipped.', exclusiveMinimum: 0, maximum: 1000 })),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal('mqtt', { title: 'Type', description: 'A message on the trigger topic is a part; payload: a part id as text, or JSON {"partId": "..."}.' }),
        topic: Type.Optional(Type.String({ title: 'Topic', description: 'Defaults to <prefix>/<line>/<camera>/trigger.', pattern: '^[^#+]+$' })),
        dedupeMs: Type.Integer({ title: 'Repeat window', description: 'A part id seen again within this long is a QoS 1 redelivery, not a new part; 0 turns this off.', minimum: 0, default: 60_000 }),
        toleranceMs: Type.Integer({ title: 'Tolerance', description: 'A frame captured up to this long before the trigger may be used; otherwise the first frame after it.', minimum: 0, default: 0 }),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal('http', { title: 'Type', description: 'POST /stations/<camera>/trigger is a part (needs api.token).' }),
        toleranceMs: Type.Integer({ title: 'Tolerance', description: 'A frame captured up to this long before the trigger may be used; otherwise the first frame after it.', minimum: 0, default: 0 }),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal('gpio', { title: 'Type', description: 'An edge on a GPIO line (Linux character device, via gpiomon from Debian\'s gpiod) is a part.' }),
        chip: Type.String({ title: 'Chip', description: 'GPIO chip, e.g. gpiochip0 or /dev/gpiochip0.', minLength: 1 }),
        line: Type.Integer({ title: 'Line', description: 'Line offset on the chip.', minimum: 0 }),
        edge: OneOf(['rising', 'falling', 'both'] as const, { title: 'Edge', description: 'Which edge fires.', default: 'rising' }),
        debounceMs: Type.Integer({ title: 'Debounce', description: 'Edges closer than this to the previous one are ignored.', minimum: 0, default: 5 }),
        toleranceMs: Type.Integer({ title: 'Tolerance', description: 'A frame captured up to this long before the trigger may be used; otherwise the first frame after it.', minimum: 0, default: 0 }),
      },
      { additionalProperties: false },
    ),
  ],
  { title: 'Trigger', description: 'When a part is there: free-run, or an external trigger carrying an optional part id.' },
);

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
    trigger: { ...TriggerConfig, default: { type: 'free-run' } },
    maxFrameAgeMs: Type.Optional(Type.Integer({ title: 'Max frame age', description: 'Frames older than this when taken for inspection are dropped and counted.', minimum: 1 })),
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
    hungAfterBudgets: Type.Number({
      title: 'Hang limit',
      description: 'A part still running after this many times its station budget (and at least 1 s) is taken as hung: its thread is terminated and replaced.',
      minimum: 1, maximum: 1000, default: 10,
    }),
    controlTimeoutMs: Type.Integer({
      title: 'Model load limit',
      description: 'Longest a model load and warm-up (or unload) may run in one thread before the thread is taken as hung. TensorRT engine builds need minutes.',
      minimum: 1000, default: 300000,
    }),
    controlWaitMs: Type.Integer({
      title: 'Control wait',
      description: 'Longest a warm-up or unload waits for its thread while parts are queued; bounds how long a hot swap takes under overload.',
      minimum: 0, maximum: 60000, default: 250,
    }),
    estimateStaleMs: Type.Integer({
      title: 'Estimate freshness',
      description: 'A run-time estimate not refreshed for this long may not refuse parts: one part is let through to measure again.',
      minimum: 10, maximum: 600000, default: 1000,
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
        format: OneOf(['auto', 'json', 'pretty'] as const, {
          title: 'Format',
          description: 'json: one JSON object per line, for log shippers; pretty: one readable line per record; auto: pretty when stderr is a terminal, else json.',
          default: 'auto',
        }),
      },
      { additionalProperties: false, default: {}, title: 'Logging', description: 'Logs go to stderr. Passwords, tokens, Authorization headers and credentials in URLs are replaced by [redacted].' },
    ),
    models: Type.Object(
      {
        directory: Type.Optional(Type.String({ title: 'Directory', description: 'Models directory (<name>/<version>/manifest.json); defaults to the bundled models/. Watched for new versions; uploads land here.' })),
        watch: Type.Boolean({ title: 'Watch', description: 'Scan the models directory for new versions and activate them on the stations that use that model.', default: true }),
        scanIntervalMs: Type.Integer({ title: 'Scan interval', description: 'How often the models directory is scanned; a new version must look the same on two scans (fully copied) before it loads.', minimum: 100, default: 2000 }),
        publicKeys: Type.Array(Type.String({ minLength: 1 }), {
          title: 'Trusted keys',
          description: 'ed25519 public keys (PEM files); when set, every model version must carry a valid signature (`linesight models sign`).',
          default: [],
        }),
        maxUploadMB: Type.Integer({ title: 'Upload limit', description: 'Largest model archive accepted by POST /models, in MiB.', minimum: 1, default: 512 }),
        autoRollback: Type.Object(
          {
            parts: Type.Integer({ title: 'Watch window', description: 'Parts inspected by a newly activated version before it is trusted; 0 turns automatic rollback off.', minimum: 0, default: 50 }),
            maxFailureRate: Type.Number({ title: 'Max failure rate', description: 'Share of error and timeout verdicts in the window that rolls the version back.', minimum: 0, maximum: 1, default: 0.2 }),
          },
          { additionalProperties: false, default: {}, title: 'Automatic rollback', description: 'Roll a new version back when it errs or times out too often in its first parts.' },
        ),
      },
      { additionalProperties: false, default: {}, title: 'Models', description: 'Where model versions live and how new ones are accepted.' },
    ),
    state: Type.Object(
      {
        directory: Type.String({ title: 'Directory', description: 'Where Linesight keeps what must survive a restart (the active model version per station); relative to the config file.', default: '.linesight' }),
      },
      { additionalProperties: false, default: {}, title: 'State', description: 'Persistent state.' },
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
export type FfmpegSourceConfig = Static<typeof FfmpegSourceConfig>;
export type GstreamerSourceConfig = Static<typeof GstreamerSourceConfig>;
export type MjpegSourceConfig = Static<typeof MjpegSourceConfig>;
export type OpencvSourceConfig = Static<typeof OpencvSourceConfig>;
export type TriggerConfig = StationConfig['trigger'];
export type ReconnectConfig = Static<typeof ReconnectConfig>;
export type InferenceConfig = Static<typeof InferenceConfig>;
export type MqttConfig = Static<typeof MqttConfig>;
export type ApiConfig = Static<typeof ApiConfig>;

export type { TSchema };
