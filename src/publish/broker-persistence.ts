// aedes keeps the QoS 1 messages of every persistent session (clean session off) in its in-memory
// persistence, one array per client id, with no bound: a PLC gateway that is switched off for a
// weekend, or any client that subscribes with clean:false and goes away, grows the process by
// every message on its topics. This is aedes-persistence's memory store with the outgoing queue
// replaced by a bounded one: beyond `maxPerClient` the oldest message of that client is dropped
// and counted (the newest verdicts are the ones a returning PLC can still act on).
import { createRequire } from 'node:module';
import type { QueueReport, QueueReporter } from '../queues.js';

const require = createRequire(import.meta.url);
// CommonJS internals without types; the memory store is a class, the callback layer wraps it.
const MemoryPersistence = require('aedes-persistence/asyncPersistence.js') as new (opts?: object) => Record<string, unknown>;
const { CallBackPersistence } = require('aedes-persistence/callBackPersistence.js') as {
  CallBackPersistence: new (factory: (opts: object) => object, opts?: object) => object;
};
const Packet = require('aedes-packet') as new (p: object) => StoredPacket;

interface StoredPacket {
  brokerId?: string;
  brokerCounter?: number;
  messageId?: number;
  topic: string;
}

type ClientRef = { id: string };

export interface SessionQueueDrop {
  clientId: string;
  topic: string;
  /** Messages dropped for this client so far. */
  dropped: number;
}

export class BoundedSessionQueues implements QueueReporter {
  readonly #max: number;
  readonly #outgoing = new Map<string, StoredPacket[]>();
  readonly #droppedBy = new Map<string, number>();
  #dropped = 0;
  readonly #onDrop: (drop: SessionQueueDrop) => void;

  constructor(options: { maxPerClient: number; onDrop?: (drop: SessionQueueDrop) => void }) {
    this.#max = options.maxPerClient;
    this.#onDrop = options.onDrop ?? (() => {});
  }

  /** The persistence object to give aedes (`Aedes.createBroker({ persistence })`). */
  persistence(): object {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const queues = this;
    class Bounded extends MemoryPersistence {
      async outgoingEnqueue(sub: { clientId: string }, packet: object): Promise<void> {
        queues.#enqueue(sub.clientId, packet);
      }
      async outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: object): Promise<void> {
        for (const sub of subs) queues.#enqueue(sub.clientId, packet);
      }
      async outgoingUpdate(client: ClientRef, packet: StoredPacket): Promise<void> {
        queues.#update(client.id, packet);
      }
      async outgoingClearMessageId(client: ClientRef, packet: StoredPacket): Promise<StoredPacket | undefined> {
        return queues.#clear(client.id, packet);
      }
      outgoingStream(client: ClientRef): AsyncIterable<StoredPacket> {
        // A copy, as in aedes-persistence: acks during the replay change the live array.
        const items = [...(queues.#outgoing.get(client.id) ?? [])];
        return (async function* () {
          yield* items;
        })();
      }
      async cleanSubscriptions(client: ClientRef): Promise<unknown> {
        // A clean session discards what the old one had queued (MQTT 3.1.1 3.1.2.4).
        queues.#outgoing.delete(client.id);
        return (MemoryPersistence.prototype as unknown as { cleanSubscriptions: (c: ClientRef) => Promise<unknown> }).cleanSubscriptions.call(this, client);
      }
    }
    return new CallBackPersistence((opts) => new Bounded(opts));
  }

  /** Messages held for `clientId` now. */
  depth(clientId: string): number {
    return this.#outgoing.get(clientId)?.length ?? 0;
  }

  queues(): QueueReport[] {
    let depth = 0;
    for (const q of this.#outgoing.values()) depth += q.length;
    // One row for all sessions: client ids are chosen by clients, not fit for metric labels. The
    // capacity is the per-client bound; the depth is the total.
    return [{ queue: 'broker-session', depth, capacity: this.#max, dropped: this.#dropped ? { 'full-oldest': this.#dropped } : {} }];
  }

  #enqueue(clientId: string, packet: object): void {
    let q = this.#outgoing.get(clientId);
    if (!q) this.#outgoing.set(clientId, (q = []));
    q.push(new Packet(packet));
    if (q.length > this.#max) {
      const old = q.shift()!;
      this.#dropped++;
      const n = (this.#droppedBy.get(clientId) ?? 0) + 1;
      // Per-client counts only while that client has a queue (bounded by the clients with one).
      this.#droppedBy.set(clientId, n);
      this.#onDrop({ clientId, topic: old.topic, dropped: n });
    }
  }

  #update(clientId: string, packet: StoredPacket): void {
    const q = this.#outgoing.get(clientId);
    if (!q) return;
    for (let i = 0; i < q.length; i++) {
      const p = q[i]!;
      if (p.brokerId === packet.brokerId) {
        if (p.brokerCounter === packet.brokerCounter) {
          p.messageId = packet.messageId;
          return;
        }
      } else if (p.messageId === packet.messageId) {
        q[i] = packet;
        return;
      }
    }
    // aedes-persistence throws here, which makes aedes drop the connection; a message dropped by
    // the bound while the client was being sent its backlog is simply delivered without a record.
  }

  #clear(clientId: string, packet: StoredPacket): StoredPacket | undefined {
    const q = this.#outgoing.get(clientId);
    if (!q) return undefined;
    const i = q.findIndex((p) => p.messageId === packet.messageId);
    if (i < 0) return undefined;
    const [p] = q.splice(i, 1);
    if (q.length === 0) {
      this.#outgoing.delete(clientId);
      this.#droppedBy.delete(clientId);
    }
    return p;
  }
}
