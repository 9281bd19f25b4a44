// Every queue and buffer in the box has a bound and a policy, and reports the same three
// numbers so /metrics shows them uniformly: how full it is, how big it may get, what it dropped.
// Owners implement QueueReporter; the app collects them; metrics reads them at scrape time.

export interface QueueReport {
  /** Stable name, e.g. `mqtt-offline:cam1`, `sse:client`, `broker-session`. Used as a metric label. */
  queue: string;
  /** Items held now. */
  depth: number;
  /** The bound on depth (items). */
  capacity: number;
  /** Items dropped since start, by reason (`full-pass`, `full-oldest`, `slow-client`, ...). */
  dropped: Record<string, number>;
}

export interface QueueReporter {
  queues(): QueueReport[];
}
