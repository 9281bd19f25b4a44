// The embedded MQTT broker (aedes), so a box with no broker still serves PLCs and the
// dashboard. Loopback by default; an external broker replaces it when mqtt.url is set.
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';

export class EmbeddedBroker {
  readonly #host: string;
  readonly #port: number;
  readonly #log: Logger;
  #aedes: Aedes | undefined;
  #server: Server | undefined;
  #url = '';

  constructor(options: { host: string; port: number; log: Logger }) {
    this.#host = options.host;
    this.#port = options.port;
    this.#log = options.log;
  }

  /** mqtt:// URL clients connect to; valid after start(). */
  get url(): string {
    return this.#url;
  }

  async start(): Promise<void> {
    const aedes = await Aedes.createBroker();
    const server = createServer(aedes.handle);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.#port, this.#host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await new Promise<void>((r) => aedes.close(() => r()));
      throw new LinesightError('LS_ERR_BROKER_LISTEN', (err as Error).message, { args: [`${this.#host}:${this.#port}`], cause: err });
    }
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : this.#port;
    this.#url = `mqtt://${this.#host.includes(':') ? `[${this.#host}]` : this.#host}:${port}`;
    this.#aedes = aedes;
    this.#server = server;
    this.#log.info({ url: this.#url }, 'embedded MQTT broker listening');
  }

  async stop(): Promise<void> {
    const { server, aedes } = { server: this.#server, aedes: this.#aedes };
    this.#server = undefined;
    this.#aedes = undefined;
    if (aedes) await new Promise<void>((r) => aedes.close(() => r()));
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
