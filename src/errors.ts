// One table of every error Linesight raises on purpose (fastify's lib/errors.js).
// Callers throw `new LinesightError('LS_ERR_X', detail)`; tests match on `code`, never on text.

export const errorTable = {
  LS_ERR_CONFIG_FILE: { message: 'cannot read config file %s', status: 400 },
  LS_ERR_CONFIG_PARSE: { message: 'config file %s is not valid YAML', status: 400 },
  LS_ERR_CONFIG_INVALID: { message: 'invalid config', status: 400 },
  LS_ERR_MODEL_NOT_FOUND: { message: 'model %s not found', status: 404 },
  LS_ERR_MODEL_MANIFEST: { message: 'invalid model manifest %s', status: 422 },
  LS_ERR_MODEL_CHECKSUM: { message: 'model file checksum mismatch', status: 422 },
  LS_ERR_MODEL_FILE: { message: 'cannot read model file %s', status: 422 },
  LS_ERR_MODEL_LOAD: { message: 'model runtime refused the model', status: 422 },
  LS_ERR_MODEL_SHAPE: { message: 'model input/output does not match the manifest', status: 422 },
  LS_ERR_SIGNATURE: { message: 'model signature check failed', status: 422 },
  LS_ERR_MODEL_GOLDEN: { message: 'model disagrees with its golden samples', status: 422 },
  LS_ERR_MODEL_EXISTS: { message: 'model version %s already exists', status: 409 },
  LS_ERR_MODEL_ARCHIVE: { message: 'invalid model archive', status: 400 },
  LS_ERR_MODEL_BUSY: { message: 'another model change is in progress for station %s', status: 409 },
  LS_ERR_NO_ROLLBACK: { message: 'no previous model version to roll back to on station %s', status: 409 },
  LS_ERR_RUNTIME_UNKNOWN: { message: 'no runtime for model format %s', status: 422 },
  LS_ERR_PROVIDER_UNAVAILABLE: { message: 'no configured execution provider is available', status: 500 },
  LS_ERR_JPEG_DECODER_UNAVAILABLE: { message: 'inference.jpegDecoder is libjpeg-turbo, but its decoder was not built (%s)', status: 500 },
  LS_ERR_IMAGE_DECODE: { message: 'cannot decode image', status: 422 },
  LS_ERR_IMAGE_FORMAT: { message: 'unsupported raw image format %s', status: 422 },
  LS_ERR_INFERENCE: { message: 'inference failed', status: 500 },
  LS_ERR_WORKER_CRASHED: { message: 'inference worker exited', status: 500 },
  LS_ERR_WORKER_HUNG: { message: 'inference worker hung and was replaced', status: 500 },
  LS_ERR_DEADLINE_EXPIRED: { message: 'no result by the deadline', status: 504 },
  LS_ERR_ADMISSION_REFUSED: { message: 'part refused before it ran: it could not finish by its deadline', status: 504 },
  LS_ERR_NOT_READY: { message: 'not ready: %s', status: 503 },
  LS_ERR_SHUTDOWN: { message: 'shutting down: the drain timeout passed before the part was decided', status: 503 },
  LS_ERR_SHED: { message: 'frame shed under overload', status: 503 },
  LS_ERR_POOL_CLOSED: { message: 'inference pool is closed', status: 503 },
  LS_ERR_SOURCE_CONFIG: { message: 'invalid frame source %s', status: 400 },
  LS_ERR_SOURCE_EMPTY: { message: 'frame source has no images: %s', status: 400 },
  LS_ERR_SOURCE_UNAVAILABLE: { message: 'frame source %s is not available on this machine', status: 501 },
  LS_ERR_SOURCE_STALLED: { message: 'camera stalled', status: 504 },
  LS_ERR_NO_FRAME: { message: 'no frame for the triggered part', status: 504 },
  LS_ERR_TRIGGER: { message: 'invalid trigger %s', status: 400 },
  LS_ERR_STATION_NOT_FOUND: { message: 'no station %s', status: 404 },
  LS_ERR_NO_IMAGE: { message: 'no image yet', status: 404 },
  LS_ERR_BROKER_LISTEN: { message: 'embedded MQTT broker cannot listen on %s', status: 500 },
  LS_ERR_API_LISTEN: { message: 'HTTP API cannot listen on %s', status: 500 },
  LS_ERR_UNAUTHORIZED: { message: 'missing or wrong bearer token', status: 401 },
  // HTTP API bounds (issue 9): model uploads and live event streams
  LS_ERR_UPLOAD_TYPE: { message: 'unsupported upload content type %s', status: 415 },
  LS_ERR_UPLOAD_TOO_LARGE: { message: 'upload too large', status: 413 },
  LS_ERR_UPLOAD_BUSY: { message: 'too many uploads in progress', status: 429 },
  LS_ERR_UPLOAD_ABORTED: { message: 'upload ended before its last byte', status: 400 },
  LS_ERR_SSE_LIMIT: { message: 'too many live event clients', status: 503 },
  // Size caps and model integrity (issue 9): images, stream frames, replay files, golden samples.
  LS_ERR_IMAGE_TOO_LARGE: { message: 'image too large', status: 413 },
  LS_ERR_FRAME_TOO_LARGE: { message: 'frame too large', status: 413 },
  LS_ERR_GOLDEN_CHECKSUM: { message: 'golden sample checksum mismatch', status: 422 },
  // MQTT: embedded broker access, TLS, bounded queues, hostile trigger payloads (issue 9).
  LS_ERR_MQTT_USERS: { message: 'invalid MQTT users in %s', status: 400 },
  LS_ERR_PASSWORD_HASH: { message: 'invalid password hash', status: 400 },
  LS_ERR_MQTT_TLS: { message: 'cannot use MQTT TLS file %s', status: 400 },
  LS_ERR_MQTT_NOT_AUTHORIZED: { message: 'MQTT client %s not authorized', status: 401 },
  LS_ERR_MQTT_FORBIDDEN: { message: 'MQTT client %s may not %s', status: 403 },
  LS_ERR_MQTT_PACKET_TOO_LARGE: { message: 'MQTT packet larger than %s bytes', status: 413 },
  LS_ERR_MQTT_QUEUE_FULL: { message: 'MQTT queue %s full', status: 503 },
  LS_ERR_TRIGGER_PAYLOAD: { message: 'unreadable trigger payload (%s)', status: 400 },
  // Config files (issue 9: hostile input)
  LS_ERR_CONFIG_EMPTY: { message: 'config file %s is empty', status: 400 },
  // Cloud outbox and cloud MQTT publisher (issue 10)
  LS_ERR_OUTBOX_OPEN: { message: 'cannot open the cloud outbox %s', status: 500 },
  LS_ERR_OUTBOX_WRITE: { message: 'cloud outbox write failed', status: 500 },
  LS_ERR_CLOUD_TLS: { message: 'cannot use cloud TLS %s', status: 400 },
  LS_ERR_CLOUD_CONNECT: { message: 'cloud broker connection failed', status: 502 },
  LS_ERR_CLOUD_REFUSED: { message: 'cloud broker refused message %s', status: 502 },
  LS_ERR_CLOUD_DISABLED: { message: 'cloud publishing is not enabled', status: 404 },
  // Evidence images (issue 10): the store, its API and the S3 upload.
  LS_ERR_EVIDENCE_ID: { message: 'invalid evidence id', status: 400 },
  LS_ERR_EVIDENCE_NOT_FOUND: { message: 'no evidence %s', status: 404 },
  LS_ERR_EVIDENCE_WRITE: { message: 'cannot write evidence in %s', status: 500 },
  LS_ERR_EVIDENCE_UPLOAD: { message: 'evidence upload to bucket %s failed', status: 502 },
  // Hardware sizing (issue 11): `linesight bench`.
  LS_ERR_BENCH_OPTION: { message: 'invalid bench option %s', status: 400 },
  LS_ERR_BENCH_REFERENCE_MODEL: { message: 'cannot make reference model %s', status: 501 },
  // Shadow trials (issue 14): a candidate version beside the active one, on spare capacity.
  LS_ERR_SHADOW_DROPPED: { message: 'shadow run dropped unrun (%s)', status: 503 },
  LS_ERR_SHADOW_ACTIVE: { message: 'station %s already runs a shadow trial', status: 409 },
  LS_ERR_SHADOW_NONE: { message: 'station %s runs no shadow trial', status: 404 },
  LS_ERR_SHADOW_SAME: { message: 'the candidate %s is the version the station serves', status: 409 },
  LS_ERR_NO_IMAGE_FOR_PART: { message: 'no image kept for part %s', status: 404 },
  // OPC UA server and Sparkplug B (issue 13)
  LS_ERR_OPCUA_USERS: { message: 'invalid OPC UA users in %s', status: 400 },
  LS_ERR_OPCUA_LISTEN: { message: 'OPC UA server cannot listen on %s', status: 500 },
  LS_ERR_OPCUA_PKI: { message: 'cannot use the OPC UA certificate folder %s', status: 500 },
} as const satisfies Record<string, { message: string; status: number }>;

export type ErrorCode = keyof typeof errorTable;

export class LinesightError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown; args?: readonly string[] }) {
    const entry = errorTable[code];
    let message: string = entry.message;
    for (const arg of options?.args ?? []) message = message.replace('%s', arg);
    message = message.replace(/ ?%s/g, '');
    super(detail ? `${message}: ${detail}` : message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LinesightError';
    this.code = code;
    this.status = entry.status;
    this.detail = detail;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isLinesightError(err: unknown, code?: ErrorCode): err is LinesightError {
  return err instanceof LinesightError && (code === undefined || err.code === code);
}

/** The error's code and message as a plain object, for verdicts and logs; unknown errors keep their message. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof LinesightError) return { code: err.code, message: err.message };
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' && e.code.startsWith('LS_ERR_') ? e.code : 'LS_ERR_INFERENCE';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return { code, message };
}
