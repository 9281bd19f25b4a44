// The clients of the live event stream (GET /events), bounded two ways: how many may connect
// (one more is refused, not queued), and how far each may fall behind. A client that stops
// reading would otherwise make its socket buffer grow with every verdict; past the bound it is
// disconnected (EventSource reconnects by itself, from the live state), never waited for.
import type { ServerResponse } from 'node:http';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import type { QueueReport, QueueReporter } from '../queues.js';

export interface LiveClientsOptions {
  maxClients: number;
  /** Unsent bytes a client may hold in its response buffer before it is dropped. */
  maxBufferedBytes: number;
  log: Logger;
}

export class LiveClients implements QueueReporter {
  readonly #o: LiveClientsOptions;
  readonly #clients = new Map<ServerResponse, string>();
  readonly #dropped = { 'over-limit': 0, 'slow-client': 0 };

  constructor(options: LiveClientsOptions) {
    this.#o = options;
  }

  get size(): number {
    return this.#clients.size;
  }

  /** Takes `res` as a client, or throws 503 LS_ERR_SSE_LIMIT when the limit is reached. */
  add(res: ServerResponse, peer: string): void {
    if (this.#clients.size >= this.#o.maxClients) {
      this.#dropped['over-limit']++;
      throw new LinesightError('LS_ERR_SSE_LIMIT', `${this.#clients.size} of ${this.#o.maxClients} are connected (api.events.maxClients)`);
    }
    this.#clients.set(res, peer);
    res.once('close', () => this.#clients.delete(res));
  }

  /** Sends one event to one client; false if the client was dropped instead. */
  send(res: ServerResponse, event: string, data: unknown): boolean {
    return this.#write(res, frame(event, data));
  }

  /** Sends one event to every client, serialised once. */
  broadcast(event: string, data: unknown): void {
    if (this.#clients.size === 0) return;
    const text = frame(event, data);
    for (const res of this.#clients.keys()) this.#write(res, text);
  }

  /** Ends every stream (server shutdown). */
  closeAll(): void {
    for (const res of this.#clients.keys()) res.end();
  }

  queues(): QueueReport[] {
    return [{ queue: 'sse-clients', depth: this.#clients.size, capacity: this.#o.maxClients, dropped: { ...this.#dropped } }];
  }

  #write(res: ServerResponse, text: string): boolean {
    if (res.destroyed || !this.#clients.has(res)) return false;
    res.write(text);
    // writableLength: bytes accepted by write() that the socket has not taken yet.
    if (res.writableLength <= this.#o.maxBufferedBytes) return true;
    const peer = this.#clients.get(res);
    this.#clients.delete(res);
    this.#dropped['slow-client']++;
    this.#o.log.warn({ peer, buffered: res.writableLength, limit: this.#o.maxBufferedBytes }, 'live event client is not reading; disconnected (api.events.maxBufferedKB)');
    res.destroy();
    return false;
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
