// An HTTP MJPEG camera (multipart/x-mixed-replace), read natively: no child process and no
// re-encoding, the camera's own JPEGs go on byte for byte. The body is cut into images by
// JPEG structure (JpegSplitter), not by the multipart headers, because cameras often send
// parts without Content-Length or with a wrong one.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Clock } from '../clock.js';
import type { MjpegSourceConfig } from '../config/schema.js';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import { redactText } from '../redact.js';
import { JpegSplitter, maxFrameBytes } from './jpeg-stream.js';
import { StreamSource, type SessionFrame } from './stream-source.js';

export interface MjpegSourceDeps {
  clock: Clock;
  log: Logger;
  random?: () => number;
}

const streamType = 'multipart/x-mixed-replace';

/** GETs the stream; resolves with the response head, whatever its status. */
function get(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    // agent: false: a stream holds its connection for hours; it must not sit in a keep-alive pool.
    const req = request(url, { headers, signal, agent: false }, resolve);
    // `on`, not `once`: the socket can fail again after the response began; the body read reports that.
    req.on('error', reject);
    req.end();
  });
}

export class MjpegSource extends StreamSource {
  readonly kind = 'mjpeg';
  readonly #config: MjpegSourceConfig;

  constructor(camera: string, config: MjpegSourceConfig, deps: MjpegSourceDeps) {
    super({ camera, clock: deps.clock, log: deps.log, reconnect: config.reconnect, random: deps.random });
    this.#config = config;
  }

  protected async validate(): Promise<void> {
    const url = URL.canParse(this.#config.url) ? new URL(this.#config.url) : undefined;
    if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
      throw new LinesightError('LS_ERR_SOURCE_CONFIG', 'expected an http:// or https:// URL of an MJPEG stream', { args: [redactText(this.#config.url)] });
    }
  }

  protected async *open(signal: AbortSignal): AsyncGenerator<SessionFrame> {
    const name = redactText(this.#config.url);
    const res = await get(new URL(this.#config.url), this.#config.headers ?? {}, signal);
    try {
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) throw new Error(`HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''} from ${name}`);
      const type = res.headers['content-type'] ?? '(none)';
      if (!type.toLowerCase().startsWith(streamType)) {
        throw new Error(`content type ${type} from ${name}; expected ${streamType} (an MJPEG stream)`);
      }

      const splitter = new JpegSplitter({ maxFrameBytes: maxFrameBytes(this.#config.maxFrameMB) });
      let corruptSeen = 0;
      let tooLargeSeen = 0;
      let broken: Error | undefined;
      try {
        for await (const chunk of res as AsyncIterable<Buffer>) {
          for (const data of splitter.push(chunk)) yield { image: { kind: 'encoded', data } };
          for (; corruptSeen < splitter.corrupt; corruptSeen++) this.decodeError('malformed JPEG in the MJPEG stream');
          for (; tooLargeSeen < splitter.tooLarge; tooLargeSeen++) this.frameTooLarge(splitter.maxFrameBytes);
        }
      } catch (err) {
        if (signal.aborted) return;
        broken = err as Error;
      }
      if (signal.aborted) return;
      const midFrame = splitter.pending > 0;
      if (midFrame) this.decodeError(`stream cut mid-frame (${splitter.pending} bytes)`);
      const how = broken ? `connection lost (${broken.message})` : 'the server closed the stream';
      throw new Error(`${how}${midFrame ? ' mid-frame' : ''}: ${name}`);
    } finally {
      res.destroy();
    }
  }
}
