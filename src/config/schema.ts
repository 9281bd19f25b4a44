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
    keepSchedule: Type.Boolean({
      title: 'Keep the schedule',
      description:
        'true: a camera on its own clock. Each frame carries the time it was due, and a late one (a busy event loop, a slow disk) goes out at once, so the rate holds and the delay shows as latency (linesight bench replays this way); frames due more than a second ago are dropped and counted (superseded). false: a late frame moves the schedule on, with no burst.',
      default: false,
    }),
    maxFileMB: Type.Integer({ title: 'File size limit', description: 'Image files larger than this (MiB) are skipped, counted (frames dropped, reason too-large) and logged. Files are read one at a time as they are replayed.', minimum: 1, maximum: 1024, default: 32 }),
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

const MaxFrameMB = Type.Integer({
  title: 'Frame size limit',
  description: 'Largest JPEG frame accepted from the stream, in MiB; a frame that grows past it is dropped and counted (frames dropped, reason too-large) and the stream resyncs at the next frame. The default fits 20 MP JPEGs.',
  minimum: 1, maximum: 1024, default: 32,
});

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
    maxFrameMB: MaxFrameMB,
    reconnect: ReconnectConfig,
  },
  { additionalProperties: false },
);

export const GstreamerSourceConfig = Type.Object(
  {
    type: Type.Literal('gstreamer', { title: 'Type', description: 'A GStreamer pipeline (child process gst-launch-1.0): Jetson CSI cameras (nvarguscamerasrc), hardware decode, GigE Vision (aravissrc).' }),
    pipeline: Type.String({ title: 'Pipeline', description: 'gst-launch-1.0 pipeline up to raw video, e.g. "aravissrc camera-name=X ! videoconvert"; Linesight appends the JPEG encoder and the pipe.', minLength: 1 }),
    jpegQuality: Type.Integer({ title: 'JPEG quality', description: 'jpegenc quality, 1 to 100.', minimum: 1, maximum: 100, default: 90 }),
    maxFrameMB: MaxFrameMB,
    reconnect: ReconnectConfig,
  },
  { additionalProperties: false },
);

export const MjpegSourceConfig = Type.Object(
  {
    type: Type.Literal('mjpeg', { title: 'Type', description: 'An HTTP MJPEG stream (multipart/x-mixed-replace), read natively.' }),
    url: Type.String({ title: 'URL', description: 'http:// or https:// stream URL.', pattern: '^https?://' }),
    headers: Type.Record(Type.String(), Type.String(), { title: 'Headers', description: 'Extra request headers (e.g. Authorization).', default: {} }),
    maxFrameMB: MaxFrameMB,
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

// What goes to the cloud (issue 10): which messages each station sends and on which topics.
// The connection and the outbox are the `cloud` section's other keys; this is `cloud.send`.
const cloudSendFields = {
  fails: (def?: boolean) =>
    Type.Boolean({ title: 'Fails', description: 'Send every part whose verdict is not pass (fail, uncertain, timeout, error), with its evidence reference when there is one.', ...(def === undefined ? {} : { default: def }) }),
  passes: (def?: boolean) => Type.Boolean({ title: 'Passes', description: 'Send every pass too (10 parts/s is 36,000 messages an hour: usually the summaries say enough).', ...(def === undefined ? {} : { default: def }) }),
  summaries: (def?: number) =>
    Type.Integer({ title: 'Summary interval', description: 'Seconds per station summary (counts by verdict, yield, latency percentiles, budget misses, model versions), aligned to the wall clock; 0 turns summaries off.', minimum: 0, maximum: 86400, ...(def === undefined ? {} : { default: def }) }),
  events: (def?: boolean) => Type.Boolean({ title: 'Events', description: 'Send model changes, refused model versions and camera state changes.', ...(def === undefined ? {} : { default: def }) }),
};

export const StationCloudConfig = Type.Object(
  { fails: Type.Optional(cloudSendFields.fails()), passes: Type.Optional(cloudSendFields.passes()), summaries: Type.Optional(cloudSendFields.summaries()), events: Type.Optional(cloudSendFields.events()) },
  { additionalProperties: false, title: 'Cloud messages', description: 'Overrides cloud.send for this station; keys left out take the cloud.send value.' },
);

const CloudTopic = (title: string, description: string, def: string) =>
  Type.String({ title, description, default: def, minLength: 1, maxLength: 200, pattern: '^[^#+$][^#+]*$' });

export const CloudSendConfig = Type.Object(
  {
    fails: cloudSendFields.fails(true),
    passes: cloudSendFields.passes(false),
    summaries: cloudSendFields.summaries(60),
    events: cloudSendFields.events(true),
    maxEventsPerMinute: Type.Integer({ title: 'Event limit', description: 'Events a station may send per minute; more (a flapping camera) are dropped, counted and reported in the next event sent.', minimum: 1, maximum: 6000, default: 30 }),
    topics: Type.Object(
      {
        verdict: CloudTopic('Verdict topic', 'Topic of a part\'s verdict; placeholders {line}, {station}, {verdict}, {thing}. At most 7 slashes (AWS IoT Core).', 'linesight/v1/{line}/{station}/verdict/{verdict}'),
        summary: CloudTopic('Summary topic', 'Topic of a station summary; placeholders {line}, {station}, {thing}.', 'linesight/v1/{line}/{station}/summary'),
        event: CloudTopic('Event topic', 'Topic of an event; placeholders {line}, {station}, {event}, {thing}.', 'linesight/v1/{line}/{station}/event/{event}'),
      },
      { additionalProperties: false, default: {}, title: 'Cloud topics', description: 'Topic templates; checked at start (known placeholders, at most 7 slashes and 256 bytes once filled in).' },
    ),
  },
  { additionalProperties: false, default: {}, title: 'Cloud messages', description: 'What each station sends to the cloud (defaults for every station; stations[].cloud overrides per station). Payloads: see "Cloud messages" in the README.' },
);

const StationEvidenceConfig = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ title: 'Enabled', description: 'Keep evidence for this station; default: evidence.enabled.' })),
    passSampleRate: Type.Optional(Type.Number({ title: 'Pass sample rate', description: 'Share of passes kept (0 to 1); default: evidence.passSampleRate.', minimum: 0, maximum: 1 })),
    nearThresholdMargin: Type.Optional(Type.Number({ title: 'Near-threshold margin', description: 'Keep parts within this of a threshold; default: evidence.nearThresholdMargin.', minimum: 0, maximum: 1 })),
  },
  { additionalProperties: false, title: 'Evidence', description: 'Overrides the evidence section for this station.' },
);

const StationShadowConfig = Type.Object(
  {
    model: Type.String({
      title: 'Candidate',
      description: 'The candidate version (name@version) run beside the active one from start-up; its answers are compared, never published.',
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*@[A-Za-z0-9][A-Za-z0-9_.+-]*$',
    }),
    share: Type.Optional(Type.Number({ title: 'Share', description: 'Share of decided parts the candidate sees (0 to 1, spread evenly); default: shadow.share.', exclusiveMinimum: 0, maximum: 1 })),
  },
  { additionalProperties: false, title: 'Shadow trial', description: 'Starts a shadow trial on this station at start-up (the API and the dashboard start them live).' },
);

export const ShadowConfig = Type.Object(
  {
    share: Type.Number({ title: 'Share', description: 'Share of decided parts a candidate sees, spread evenly (1: every part).', exclusiveMinimum: 0, maximum: 1, default: 1 }),
    maxLagMs: Type.Integer({ title: 'Max lag', description: 'A candidate run not started this long after its part was decided is dropped (spare capacity did not come).', minimum: 1, maximum: 60000, default: 500 }),
    reportEveryParts: Type.Integer({ title: 'Report interval', description: 'An `agreement` event (bus, MQTT) every this many compared parts; 0: none.', minimum: 0, default: 10 }),
    maxDisagreements: Type.Integer({ title: 'Disagreements kept', description: 'Newest disagreements kept per trial for the report.', minimum: 1, maximum: 10000, default: 200 }),
    policy: Type.Object(
      {
        minParts: Type.Integer({ title: 'Minimum parts', description: 'Parts compared before the candidate can be promoted.', minimum: 1, default: 500 }),
        minAgreement: Type.Number({ title: 'Minimum agreement', description: 'Share of compared parts with the same verdict (pass, fail, uncertain) as the active version.', minimum: 0, maximum: 1, default: 0.99 }),
        maxErrors: Type.Integer({ title: 'Maximum errors', description: 'Candidate errors (decode, inference, crashed or hung thread) tolerated.', minimum: 0, default: 0 }),
        maxLatencyMs: Type.Optional(Type.Number({ title: 'Latency limit', description: 'Projected capture-to-verdict p99 allowed, in ms: each compared part\'s own latency with the candidate\'s worker time in place of the active version\'s; default: the station budget.', exclusiveMinimum: 0 })),
        mode: OneOf(['manual', 'auto'] as const, { title: 'Mode', description: 'auto: promote as soon as the policy holds; manual: announce it (event `ready`) and wait for a person to promote.', default: 'manual' }),
      },
      { additionalProperties: false, default: {}, title: 'Promotion policy', description: 'When a candidate has earned the line.' },
    ),
  },
  {
    additionalProperties: false,
    default: {},
    title: 'Shadow trials',
    description: 'A candidate version beside the active one sees the same parts on spare capacity only (lowest priority, dropped first, never before a part); its answers are compared and recorded, never published.',
  },
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
    cloud: Type.Optional(StationCloudConfig),
    evidence: Type.Optional(StationEvidenceConfig),
    shadow: Type.Optional(StationShadowConfig),
  },
  { additionalProperties: false },
);

export const MqttUserConfig = Type.Object(
  {
    username: Type.String({ title: 'Username', description: 'MQTT username (1-64 characters).', minLength: 1, maxLength: 64 }),
    password: Type.String({ title: 'Password hash', description: 'scrypt hash `scrypt$N$r$p$salt$hash`, made by `linesight mqtt hash-password`; never the password itself.', pattern: '^scrypt\\$' }),
    role: OneOf(['reader', 'trigger'] as const, {
      title: 'Role',
      description: 'reader: may subscribe (see subscribe). trigger: may also publish on the trigger topics of its cameras. Only Linesight itself publishes verdicts, status and anything else under the topic prefix.',
      default: 'reader',
    }),
    cameras: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { title: 'Cameras', description: 'trigger role: the cameras whose trigger topics it may publish on; without it, every camera.' })),
    subscribe: Type.Array(Type.String({ minLength: 1 }), { title: 'Subscribe', description: 'Topic filters it may subscribe within (`#` covers every topic not starting with `$`).', default: ['#'] }),
    publish: Type.Array(Type.String({ minLength: 1 }), { title: 'Publish', description: 'Extra topic filters it may publish on, outside the topic prefix (inside it, only trigger topics are ever allowed).', default: [] }),
  },
  { additionalProperties: false },
);

const FilePath = (title: string, description: string) => Type.String({ title, description, minLength: 1 });

export const MqttConfig = Type.Object(
  {
    url: Type.Optional(Type.String({ title: 'Broker URL', description: 'External broker (mqtt://, mqtts://, ws://). Without it Linesight starts its embedded broker. Env: LINESIGHT_MQTT_URL.', pattern: '^(mqtts?|wss?|tcp|ssl)://' })),
    embedded: Type.Object(
      {
        host: Type.String({ title: 'Host', description: 'Address the embedded broker listens on. Env: LINESIGHT_LISTEN_HOST (also sets api.host).', default: '127.0.0.1' }),
        port: Type.Integer({ title: 'Port', description: 'Port of the embedded broker; 0 picks a free one.', minimum: 0, maximum: 65535, default: 1883 }),
        users: Type.Array(MqttUserConfig, { title: 'Users', description: 'Who may connect (besides Linesight itself). Env: LINESIGHT_MQTT_USERS (the same list as YAML or JSON) replaces it.', default: [] }),
        usersFile: Type.Optional(FilePath('Users file', 'YAML or JSON file with more users (a list, or {users: [...]}, entries as in users); relative to the config file. Read at start.')),
        anonymous: Type.Optional(
          OneOf(['off', 'reader', 'trigger'] as const, {
            title: 'Anonymous access',
            description: 'What clients without a username may do: off (refused), reader (subscribe), trigger (subscribe and publish triggers). Default: trigger while no user is configured (the out-of-box demo, with a loud warning at start), off once any user is.',
          }),
        ),
        maxPacketBytes: Type.Integer({ title: 'Max packet size', description: 'A client sending a larger MQTT packet is disconnected (and logged).', minimum: 1024, maximum: 268435455, default: 65536 }),
        maxQueuedPerClient: Type.Integer({ title: 'Max queued per client', description: 'QoS 1 messages kept per persistent session (offline or slow client); beyond this the oldest is dropped and counted.', minimum: 1, default: 10000 }),
        tls: Type.Optional(
          Type.Object(
            {
              host: Type.Optional(Type.String({ title: 'Host', description: 'Address of the TLS listener; default: embedded.host.' })),
              port: Type.Integer({ title: 'Port', description: 'Port of the TLS listener; 0 picks a free one.', minimum: 0, maximum: 65535, default: 8883 }),
              cert: FilePath('Certificate', 'PEM server certificate (chain); relative to the config file.'),
              key: FilePath('Key', 'PEM private key of the certificate; relative to the config file.'),
              ca: Type.Optional(FilePath('CA', 'PEM CA bundle that client certificates must chain to; relative to the config file.')),
              requireClientCert: Type.Boolean({ title: 'Require client certificate', description: 'Refuse TLS clients without a certificate signed by ca (needs ca).', default: false }),
            },
            { additionalProperties: false, title: 'TLS listener', description: 'A second, TLS-only listener (mqtts) of the embedded broker; Linesight itself uses the plain one on loopback.' },
          ),
        ),
      },
      { additionalProperties: false, default: {}, title: 'Embedded broker', description: 'Used when no url is set.' },
    ),
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(FilePath('CA', 'PEM CA bundle the external broker\'s certificate must chain to; relative to the config file.')),
          cert: Type.Optional(FilePath('Client certificate', 'PEM client certificate, for brokers that require one; relative to the config file.')),
          key: Type.Optional(FilePath('Client key', 'PEM private key of the client certificate; relative to the config file.')),
          rejectUnauthorized: Type.Boolean({ title: 'Verify broker', description: 'Refuse a broker whose certificate does not verify; false only for testing.', default: true }),
          servername: Type.Optional(Type.String({ title: 'Server name', description: 'Name expected in the broker certificate (and sent as SNI), when it differs from the URL host.' })),
        },
        { additionalProperties: false, title: 'TLS', description: 'TLS for the connection to an external broker (mqtts:// or wss:// URL), used by the verdict publisher and the MQTT triggers.' },
      ),
    ),
    offlineQueue: Type.Object(
      {
        maxMessages: Type.Integer({ title: 'Max messages', description: 'Verdicts kept per camera while the broker is unreachable (9000: 15 minutes at 10 parts/s); when full, the oldest pass is dropped first.', minimum: 1, default: 9000 }),
        maxBytes: Type.Integer({ title: 'Max bytes', description: 'Bound on the payload bytes kept per camera, whichever bound is reached first.', minimum: 1024, default: 16 * 1024 * 1024 }),
        maxInflight: Type.Integer({ title: 'Max in flight', description: 'Unacknowledged QoS 1 verdicts handed to the MQTT client at a time, per camera.', minimum: 1, maximum: 65535, default: 100 }),
      },
      { additionalProperties: false, default: {}, title: 'Offline queue', description: 'Verdicts waiting for the local broker, per camera.' },
    ),
    topicPrefix: Type.String({ title: 'Topic prefix', description: 'Prefix of every topic.', default: 'linesight/v1', pattern: '^[^#+]+$' }),
    clientIdPrefix: Type.String({ title: 'Client id prefix', description: 'MQTT client ids are <prefix>-<line>-<camera>.', default: 'linesight' }),
    username: Type.Optional(Type.String({ title: 'Username', description: 'For an external broker. Env: LINESIGHT_MQTT_USERNAME.' })),
    password: Type.Optional(Type.String({ title: 'Password', description: 'For an external broker. Env: LINESIGHT_MQTT_PASSWORD.' })),
  },
  { additionalProperties: false, default: {}, title: 'Local MQTT', description: 'Where verdicts go for PLCs, reject gates and SCADA.' },
);

export const EvidenceConfig = Type.Object(
  {
    enabled: Type.Boolean({ title: 'Enabled', description: 'Keep evidence images: every fail, parts near a decision threshold and a sample of passes, each with its verdict JSON and sha256.', default: false }),
    directory: Type.Optional(Type.String({ title: 'Directory', description: 'Where evidence is kept; default <state.directory>/evidence; relative to the config file. Files in it that are not evidence are left alone.' })),
    quotaMB: Type.Integer({ title: 'Disk quota', description: 'Most disk space (MiB) evidence may use; past it the oldest is deleted first (counted).', minimum: 1, maximum: 10_000_000, default: 1024 }),
    maxFiles: Type.Integer({ title: 'Max parts', description: 'Most parts kept, whatever their size; past it the oldest is deleted first (counted).', minimum: 1, maximum: 10_000_000, default: 100_000 }),
    maxAgeDays: Type.Number({ title: 'Max age', description: 'Evidence older than this (days) is deleted (counted).', exclusiveMinimum: 0, maximum: 3650, default: 30 }),
    passSampleRate: Type.Number({ title: 'Pass sample rate', description: 'Share of passes kept (0 to 1), chosen at random.', minimum: 0, maximum: 1, default: 0 }),
    nearThresholdMargin: Type.Number({
      title: 'Near-threshold margin',
      description: 'Keep parts whose fail or pass probability is within this of its threshold, and every uncertain part (what retraining needs); 0 turns this off.',
      minimum: 0, maximum: 1, default: 0.05,
    }),
    maxQueue: Type.Integer({ title: 'Max queue', description: 'Parts waiting to be written; when the disk is slow and the queue is full, a part\'s evidence is skipped and counted, never the inspection delayed. Each holds one frame in memory.', minimum: 1, maximum: 1000, default: 16 }),
    jpegQuality: Type.Integer({ title: 'JPEG quality', description: 'Quality for frames that are not JPEG already (raw pixels, PNG); JPEG frames are kept as the camera sent them.', minimum: 1, maximum: 100, default: 90 }),
    s3: Type.Optional(
      Type.Object(
        {
          bucket: Type.String({ title: 'Bucket', description: 'Bucket the evidence images go to.', minLength: 3, maxLength: 63 }),
          region: Type.String({ title: 'Region', description: 'AWS region (any value for most S3-compatible stores).', default: 'us-east-1' }),
          endpoint: Type.Optional(Type.String({ title: 'Endpoint', description: 'URL of an S3-compatible store (MinIO, Ceph, ...); default: AWS.', pattern: '^https?://' })),
          forcePathStyle: Type.Boolean({ title: 'Path-style URLs', description: 'Address the bucket in the path (most S3-compatible stores need this).', default: false }),
          prefix: Type.String({ title: 'Key prefix', description: 'Object keys are <prefix>/<line>/<station>/<yyyy>/<mm>/<dd>/<verdict id>.jpg.', default: 'evidence', pattern: '^[A-Za-z0-9!_.*()/-]*$', maxLength: 256 }),
          accessKeyId: Type.Optional(Type.String({ title: 'Access key id', description: 'Env: LINESIGHT_S3_ACCESS_KEY_ID. Without it, the AWS default chain (AWS_ACCESS_KEY_ID, ~/.aws/credentials or AWS_SHARED_CREDENTIALS_FILE, instance role).', minLength: 1 })),
          secretAccessKey: Type.Optional(Type.String({ title: 'Secret access key', description: 'Env: LINESIGHT_S3_SECRET_ACCESS_KEY.', minLength: 1 })),
          maxAttempts: Type.Integer({ title: 'Max attempts', description: 'Uploads of one image that fail before it is quarantined (listed in the outbox quarantine, where it can be retried).', minimum: 1, maximum: 1000, default: 20 }),
          timeoutMs: Type.Integer({ title: 'Timeout', description: 'Longest one upload may take before it counts as failed.', minimum: 100, maximum: 600_000, default: 30_000 }),
        },
        { additionalProperties: false, title: 'S3 upload', description: 'Upload evidence images to S3-compatible storage, through the durable outbox (an outage buffers the uploads, which retry with backoff). The cloud message of a fail carries the object key.' },
      ),
    ),
  },
  { additionalProperties: false, default: {}, title: 'Evidence', description: 'Images of failed, borderline and sampled parts, for traceability and retraining; listed at GET /evidence and in the dashboard\'s fail gallery.' },
);

export const ApiConfig = Type.Object(
  {
    enabled: Type.Boolean({ title: 'Enabled', description: 'Serve the HTTP API.', default: true }),
    host: Type.String({ title: 'Host', description: 'Listen address. Env: LINESIGHT_LISTEN_HOST (also sets mqtt.embedded.host; the container image sets 0.0.0.0).', default: '127.0.0.1' }),
    port: Type.Integer({ title: 'Port', description: 'Listen port; 0 picks a free one.', minimum: 0, maximum: 65535, default: 8080 }),
    token: Type.Optional(Type.String({ title: 'Token', description: 'Bearer token for mutating routes (and, with protectReads, for every route but /healthz and /readyz). Env: LINESIGHT_API_TOKEN.', minLength: 16 })),
    protectReads: Type.Boolean({
      title: 'Protect reads',
      description: 'Require the token on every route except /healthz and /readyz: metrics, stations, models, evidence, OpenAPI, the dashboard, its image routes, /evidence and /events (these also take ?access_token=, since browsers cannot send headers there). Needs api.token.',
      default: false,
    }),
    events: Type.Object(
      {
        maxClients: Type.Integer({ title: 'Max clients', description: 'Live event streams (GET /events) served at once; one more is answered 503 LS_ERR_SSE_LIMIT.', minimum: 1, maximum: 1000, default: 16 }),
        maxBufferedKB: Type.Integer({
          title: 'Client buffer',
          description: 'Unsent bytes (KiB) a live event client may fall behind by; a client that does not read is disconnected when it passes this, never waited for.',
          minimum: 16,
          maximum: 65536,
          default: 1024,
        }),
      },
      { additionalProperties: false, default: {}, title: 'Live events', description: 'Bounds of the dashboard\'s Server-Sent Events stream.' },
    ),
  },
  { additionalProperties: false, default: {}, title: 'HTTP API', description: 'Health, readiness, Prometheus metrics, the dashboard and model management.' },
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
    maxImagePixels: Type.Integer({
      title: 'Image pixel limit',
      description: 'Frames (and golden samples) with more pixels than this get an `error` verdict (LS_ERR_IMAGE_TOO_LARGE), checked from the image header before decoding. The default fits 20 MP cameras.',
      minimum: 1, maximum: 1_000_000_000, default: 25_000_000,
    }),
    jpegDecoder: OneOf(['auto', 'libjpeg-turbo', 'sharp'] as const, {
      title: 'JPEG decoder',
      description: 'How JPEG frames are decoded. auto: libjpeg-turbo decodes at the scale sharp would shrink to on load, then sharp resizes (the same pixels, 6-20 % less CPU per frame as measured: README "Sizing") when npm ci built native/jpeg, else sharp alone, with a warning; libjpeg-turbo: the same, and its absence is a start error; sharp: sharp alone. CMYK, 12-bit and ICC-tagged JPEGs always go to sharp alone.',
      default: 'auto',
    }),
    freeBuffersEarly: Type.Boolean({
      title: 'Free buffers early',
      description: 'Each thread collects V8\'s young generation after every 8 MiB of new frame, pixel and tensor buffers, so their memory is freed while young instead of at the next full collection. Measured with MobileNetV2 (224 x 224 input), 2 workers, 1280 x 1024 frames (README "Memory"): 12-17 MiB less steady RSS and 29 MiB less peak at 10 parts/s; at 60 parts/s no dependable saving (271-332 against 311-326 MiB) for 2-3 ms more CPU per part; with a small input (label-orientation, 48 x 192) no measurable difference. For boxes at low rates where memory is scarcer than CPU (a Jetson shares its memory with the GPU).',
      default: false,
    }),
    estimateStaleMs: Type.Integer({
      title: 'Estimate freshness',
      description: 'A run-time estimate not refreshed for this long may not refuse parts: one part is let through to measure again.',
      minimum: 10, maximum: 600000, default: 1000,
    }),
  },
  { additionalProperties: false, default: {}, title: 'Inference', description: 'The worker pool.' },
);

const CloudClassConfig = (priority: number, ttlS: number, what: string) =>
  Type.Object(
    {
      priority: Type.Integer({ title: 'Priority', description: 'Higher survives longer when the outbox is full; the lowest class goes first, oldest first.', minimum: 0, maximum: 1000, default: priority }),
      ttlSeconds: Type.Integer({ title: 'Time to live', description: 'Seconds a message may wait before it is dropped as expired (counted); 0: never.', minimum: 0, default: ttlS }),
    },
    { additionalProperties: false, default: {}, title: what, description: `Priority and time to live of ${what.toLowerCase()} messages.` },
  );

export const CloudConfig = Type.Object(
  {
    enabled: Type.Boolean({ title: 'Enabled', description: 'Send results to the cloud broker through the durable outbox.', default: false }),
    transport: OneOf(['mqtt', 'greengrass-ipc'] as const, { title: 'Transport', description: 'mqtt: a connection of Linesight\'s own to cloud.url with the client certificate in cloud.tls; greengrass-ipc: through the Greengrass nucleus (IPC, aws.greengrass#PublishToIoTCore) with the nucleus\'s certificate: cloud.url and cloud.tls are not used, the nucleus sets cloud.greengrassIpc from its environment, and the component\'s accessControl must allow the topics. Env: LINESIGHT_CLOUD_TRANSPORT.', default: 'mqtt' }),
    greengrassIpc: Type.Optional(
      Type.Object(
        {
          socketPath: Type.Optional(Type.String({ title: 'IPC socket', description: 'The nucleus\'s IPC socket; normally set through AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT, which the nucleus sets.', minLength: 1 })),
          authToken: Type.Optional(Type.String({ title: 'IPC token', description: 'The component\'s IPC token; normally set through SVCUID, which the nucleus sets. Never logged.', minLength: 1 })),
        },
        { additionalProperties: false, title: 'Greengrass IPC', description: 'Where and as whom to reach the nucleus when cloud.transport is greengrass-ipc; both come from the environment the nucleus gives its components.' },
      ),
    ),
    url: Type.String({ title: 'Broker URL', description: 'mqtts://host:8883 (AWS IoT Core: mqtts://<endpoint>-ats.iot.<region>.amazonaws.com:8883, or :443 with alpn). Env: LINESIGHT_CLOUD_URL.', pattern: '^(mqtts|ssl|mqtt|tcp)://', default: 'mqtts://localhost:8883' }),
    thingName: Type.String({ title: 'Thing name', description: 'MQTT client id (the IoT Core thing name). Env: LINESIGHT_CLOUD_THING_NAME.', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9:_-]+$', default: 'linesight' }),
    tls: Type.Object(
      {
        ca: Type.Optional(FilePath('CA', 'PEM CA bundle the broker certificate must chain to (AmazonRootCA1.pem); relative to the config file. Env: LINESIGHT_CLOUD_CA holds the PEM itself.')),
        cert: Type.Optional(FilePath('Client certificate', 'PEM client certificate (the thing certificate); relative to the config file. Env: LINESIGHT_CLOUD_CERT holds the PEM itself.')),
        key: Type.Optional(FilePath('Client key', 'PEM private key of the client certificate; relative to the config file. Env: LINESIGHT_CLOUD_KEY holds the PEM itself.')),
        caPem: Type.Optional(Type.String({ title: 'CA (PEM)', description: 'The CA as PEM text instead of a file; normally set through LINESIGHT_CLOUD_CA.' })),
        certPem: Type.Optional(Type.String({ title: 'Client certificate (PEM)', description: 'The client certificate as PEM text; normally set through LINESIGHT_CLOUD_CERT.' })),
        privateKey: Type.Optional(Type.String({ title: 'Client key (PEM)', description: 'The private key as PEM text; normally set through LINESIGHT_CLOUD_KEY. Never logged.' })),
        alpn: Type.Optional(Type.String({ title: 'ALPN', description: 'ALPN protocol to offer, e.g. x-amzn-mqtt-ca for AWS IoT Core on port 443.', pattern: '^[\\x21-\\x7e]{1,255}$' })),
        rejectUnauthorized: Type.Boolean({ title: 'Verify broker', description: 'Refuse a broker whose certificate does not verify; false only for testing.', default: true }),
        servername: Type.Optional(Type.String({ title: 'Server name', description: 'Name expected in the broker certificate (and sent as SNI), when it differs from the URL host.' })),
      },
      { additionalProperties: false, default: {}, title: 'TLS', description: 'Mutual TLS: the broker proves itself with its certificate, Linesight with its client certificate.' },
    ),
    reconnect: Type.Object(
      {
        initialMs: Type.Integer({ title: 'First retry', description: 'Delay before the first reconnect; doubles per failure.', minimum: 10, default: 1000 }),
        maxMs: Type.Integer({ title: 'Longest retry', description: 'Upper bound of the reconnect delay.', minimum: 10, default: 60000 }),
        jitter: Type.Number({ title: 'Jitter', description: 'Share of each delay drawn at random (0..1), so a plant of boxes does not reconnect in step.', minimum: 0, maximum: 1, default: 0.3 }),
        connectTimeoutMs: Type.Integer({ title: 'Connect timeout', description: 'A connection attempt (TCP, TLS, CONNACK) that takes longer fails.', minimum: 100, default: 10000 }),
      },
      { additionalProperties: false, default: {}, title: 'Reconnect', description: 'Reconnect with exponential backoff and jitter.' },
    ),
    send: CloudSendConfig,
    publishesPerSecond: Type.Integer({ title: 'Publishes per second', description: 'Rate limit of the drain (AWS IoT Core allows 100 per connection).', minimum: 1, maximum: 10000, default: 100 }),
    maxInflight: Type.Integer({ title: 'Max in flight', description: 'Unacknowledged QoS 1 publishes at a time.', minimum: 1, maximum: 1000, default: 20 }),
    maxPayloadBytes: Type.Integer({ title: 'Max payload', description: 'Larger messages are quarantined without being sent (AWS IoT Core: 128 KiB).', minimum: 256, maximum: 268435455, default: 131072 }),
    maxTopicSlashes: Type.Integer({ title: 'Max topic slashes', description: 'Messages on deeper topics are quarantined without being sent (AWS IoT Core: 7).', minimum: 0, maximum: 100, default: 7 }),
    maxAttempts: Type.Integer({ title: 'Max attempts', description: 'A message whose sending closed the connection this many times is quarantined.', minimum: 1, maximum: 1000, default: 5 }),
    outbox: Type.Object(
      {
        path: Type.Optional(FilePath('Path', 'SQLite file of the outbox; default <state.directory>/cloud-outbox.db; relative to the config file. Unreadable or corrupt: Linesight refuses to start (LS_ERR_OUTBOX_OPEN).')),
        synchronous: OneOf(['background', 'full', 'normal'] as const, { title: 'Synchronous', description: 'When an added message is on disk. background: fsynced right after each commit off the event loop, checkpoints in a worker thread (a power cut may lose the last few milliseconds; inspection never waits for the disk); full: fsynced inside every add, on the event loop (about 4 to 14 ms per message on a typical disk); normal: fsynced only at checkpoints. All three survive a process kill.', default: 'background' }),
        maxMessages: Type.Integer({ title: 'Max messages', description: 'Messages kept while the cloud is unreachable; when full, the policy by priority applies.', minimum: 10, default: 1000000 }),
        maxBytes: Type.Integer({ title: 'Max bytes', description: 'Bound on the bytes kept (waiting and quarantined).', minimum: 65536, default: 512 * 1024 * 1024 }),
        maxQuarantined: Type.Integer({ title: 'Max quarantined', description: 'Refused messages kept for inspection; beyond this the oldest go (counted).', minimum: 1, default: 1000 }),
        classes: Type.Object(
          {
            fail: CloudClassConfig(50, 7 * 86400, 'Fail'),
            event: CloudClassConfig(40, 7 * 86400, 'Event'),
            evidence: CloudClassConfig(30, 3 * 86400, 'Evidence'),
            summary: CloudClassConfig(20, 86400, 'Summary'),
            pass: CloudClassConfig(10, 3600, 'Pass'),
          },
          { additionalProperties: false, default: {}, title: 'Message classes', description: 'Per class: priority when full, time to live.' },
        ),
      },
      { additionalProperties: false, default: {}, title: 'Outbox', description: 'The durable queue (SQLite, WAL) between inspection and the cloud.' },
    ),
  },
  { additionalProperties: false, default: {}, title: 'Cloud', description: 'Results to a cloud MQTT broker (AWS IoT Core or any MQTT 3.1.1/5 broker) over mutual TLS, or through the Greengrass nucleus, through a durable outbox.' },
);

export const opcuaRights = ['acknowledge', 'trigger'] as const;
export type OpcUaRight = (typeof opcuaRights)[number];

export const OpcUaUserConfig = Type.Object(
  {
    username: Type.String({ title: 'Username', description: 'OPC UA user name (1-64 characters).', minLength: 1, maxLength: 64 }),
    password: Type.String({ title: 'Password hash', description: 'scrypt hash `scrypt$N$r$p$salt$hash`, made by `linesight mqtt hash-password`; never the password itself.', pattern: '^scrypt\\$' }),
    rights: Type.Array(OneOf(opcuaRights, { title: 'Right', description: 'acknowledge: may call AcknowledgeAlarm; trigger: may call TriggerPart.' }), {
      title: 'Rights',
      description: 'Methods the user may call besides reading and subscribing. Nothing over OPC UA changes models.',
      default: [],
    }),
  },
  { additionalProperties: false },
);

export const opcuaSecurityPolicies = ['Basic256Sha256', 'Aes128_Sha256_RsaOaep'] as const;

export const OpcUaConfig = Type.Object(
  {
    enabled: Type.Boolean({ title: 'Enabled', description: 'Serve verdicts, counters and health to PLCs and SCADA over OPC UA.', default: false }),
    host: Type.String({ title: 'Host', description: 'Listen address; 0.0.0.0 for the plant network.', default: '127.0.0.1' }),
    port: Type.Integer({ title: 'Port', description: 'TCP port (opc.tcp); 0 picks a free one.', minimum: 0, maximum: 65535, default: 4840 }),
    hostname: Type.Optional(Type.String({ title: 'Host name', description: 'Name in the endpoint URLs and the application certificate (default: host, or the machine\'s host name when host is 0.0.0.0 or ::).', minLength: 1, maxLength: 253 })),
    pkiDirectory: Type.Optional(FilePath('PKI directory', 'Certificates: own/ (the server\'s, made on first start), trusted/certs (client certificates allowed), rejected/ (refused ones land here, move them to trusted/certs to allow). Default <state.directory>/opcua-pki; relative to the config file.')),
    securityPolicies: Type.Array(OneOf(opcuaSecurityPolicies, { title: 'Policy', description: 'OPC UA security policy.' }), {
      title: 'Security policies', description: 'Offered in Sign and SignAndEncrypt mode.', minItems: 1, default: [...opcuaSecurityPolicies],
    }),
    securityModes: Type.Array(OneOf(['Sign', 'SignAndEncrypt'] as const, { title: 'Mode', description: 'Message security mode.' }), {
      title: 'Security modes', description: 'Offered with every policy.', minItems: 1, default: ['Sign', 'SignAndEncrypt'],
    }),
    allowInsecure: Type.Boolean({ title: 'Allow security None', description: 'Also offer an endpoint without signing or encryption (SecurityPolicy None). Only for a bench test; user passwords then cross the wire in clear.', default: false }),
    anonymous: Type.Boolean({ title: 'Anonymous', description: 'Let clients without a user name read and subscribe (never call methods).', default: false }),
    users: Type.Array(OpcUaUserConfig, { title: 'Users', description: 'Who may log in. Env: LINESIGHT_OPCUA_USERS (the same list as YAML or JSON) replaces it.', default: [] }),
    maxSessions: Type.Integer({ title: 'Max sessions', description: 'Sessions at once; one more is refused (BadTooManySessions).', minimum: 1, maximum: 1000, default: 50 }),
    maxConnections: Type.Integer({ title: 'Max connections', description: 'TCP connections at once per endpoint.', minimum: 1, maximum: 1000, default: 60 }),
    maxSubscriptionsPerSession: Type.Integer({ title: 'Max subscriptions per session', description: 'Subscriptions one session may create.', minimum: 1, maximum: 100, default: 10 }),
    maxMonitoredItemsPerSubscription: Type.Integer({ title: 'Max monitored items', description: 'Monitored items per subscription.', minimum: 1, maximum: 100000, default: 1000 }),
    maxQueueSize: Type.Integer({ title: 'Max queue size', description: 'Changes a monitored item may hold between two publishes (the client asks for its queue size, up to this); ask for at least the parts per publishing interval to receive every part.', minimum: 1, maximum: 5000, default: 1000 }),
  },
  { additionalProperties: false, default: {}, title: 'OPC UA', description: 'An OPC UA server for PLCs and SCADA: one folder per station with the last verdict, counters and health; methods to acknowledge a station\'s alarm and trigger a part. Off by default.' },
);

export const SparkplugConfig = Type.Object(
  {
    enabled: Type.Boolean({ title: 'Enabled', description: 'Publish verdicts as MQTT Sparkplug B (one edge node per box, one device per station).', default: false }),
    broker: OneOf(['local', 'cloud'] as const, { title: 'Broker', description: 'local: the local broker (mqtt.url or the embedded one, with Linesight\'s login); cloud: the cloud broker (cloud.url and cloud.tls; the outbox is not used, Sparkplug state is live by nature).', default: 'local' }),
    groupId: Type.Optional(Id('Group id', 'Sparkplug group id (first topic level after spBv1.0); default: the line id.')),
    edgeNodeId: Type.Optional(Id('Edge node id', 'Sparkplug edge node id; default: linesight-<line>.')),
  },
  { additionalProperties: false, default: {}, title: 'Sparkplug B', description: 'Verdicts to SCADA and MES over MQTT Sparkplug B: NBIRTH/DBIRTH, DDATA per part, NDEATH as last will.' },
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
        directory: Type.Optional(Type.String({ title: 'Directory', description: 'Models directory (<name>/<version>/manifest.json); defaults to the bundled models/. Watched for new versions; uploads land here. Env: LINESIGHT_MODELS_DIR.' })),
        watch: Type.Boolean({ title: 'Watch', description: 'Scan the models directory for new versions and activate them on the stations that use that model.', default: true }),
        scanIntervalMs: Type.Integer({ title: 'Scan interval', description: 'How often the models directory is scanned; a new version must look the same on two scans (fully copied) before it loads.', minimum: 100, default: 2000 }),
        publicKeys: Type.Array(Type.String({ minLength: 1 }), {
          title: 'Trusted keys',
          description: 'ed25519 public keys (PEM files); when set, every model version must carry a valid signature (`linesight models sign`).',
          default: [],
        }),
        maxUploadMB: Type.Integer({
          title: 'Upload limit',
          description: 'Largest model archive accepted by POST /models, in MiB, and the most it may unpack to; larger uploads are refused with 413 as soon as they pass it.',
          minimum: 1,
          default: 512,
        }),
        maxConcurrentUploads: Type.Integer({ title: 'Concurrent uploads', description: 'Model uploads received at once; one more is answered 429 LS_ERR_UPLOAD_BUSY before its body is read.', minimum: 1, maximum: 64, default: 2 }),
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
    cloud: CloudConfig,
    state: Type.Object(
      {
        directory: Type.String({ title: 'Directory', description: 'Where Linesight keeps what must survive a restart (the active model version per station, the cloud outbox, evidence); relative to the config file. Env: LINESIGHT_STATE_DIR.', default: '.linesight' }),
      },
      { additionalProperties: false, default: {}, title: 'State', description: 'Persistent state.' },
    ),
    stations: Type.Array(StationConfig, {
      title: 'Stations',
      description: 'One station per camera: its source, model and budget. (`linesight run` without --config runs the bundled demo station.)',
      minItems: 1,
    }),
    mqtt: MqttConfig,
    evidence: EvidenceConfig,
    opcua: OpcUaConfig,
    sparkplug: SparkplugConfig,
    api: ApiConfig,
    inference: InferenceConfig,
    shadow: ShadowConfig,
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
export type MqttUserConfig = Static<typeof MqttUserConfig>;
export type ApiConfig = Static<typeof ApiConfig>;
export type CloudConfig = Static<typeof CloudConfig>;
export type CloudSendConfig = Static<typeof CloudSendConfig>;
export type StationCloudConfig = Static<typeof StationCloudConfig>;
export type EvidenceConfig = Static<typeof EvidenceConfig>;
export type ShadowConfig = Static<typeof ShadowConfig>;
export type OpcUaConfig = Static<typeof OpcUaConfig>;
export type OpcUaUserConfig = Static<typeof OpcUaUserConfig>;
export type SparkplugConfig = Static<typeof SparkplugConfig>;

export type { TSchema };
