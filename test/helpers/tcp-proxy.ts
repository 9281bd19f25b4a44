// A loopback TCP proxy that tests can break on purpose: cut every connection, refuse new ones
// for a while, or swallow what the client sends (its acknowledgements never reach the server),
// which is what a flaky network does to one client while the server stays up.
import { createServer, connect, type Socket } from 'node:net';

type TestContext = { after: (fn: () => void | Promise<void>) => void };

export interface TcpProxy {
  url: string;
  /** Connections accepted so far (reconnects show up here). */
  readonly accepted: number;
  /** Destroys every open connection, both ways. */
  cut(): void;
  /** While refusing, new connections are closed at once. */
  refuse(on: boolean): void;
  /** While swallowing, bytes from clients are dropped instead of forwarded. */
  swallowUpstream(on: boolean): void;
}

export async function startTcpProxy(t: TestContext, target: { host?: string; port: number }, scheme = 'mqtt'): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let refusing = false;
  let swallowing = false;
  let accepted = 0;
  const server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = connect(target.port, target.host ?? '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (d) => {
      if (!swallowing) upstream.write(d);
    });
    upstream.on('data', (d) => client.write(d));
    for (const s of pair) {
      s.on('error', close);
      s.on('close', close);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const [a, b] of pairs) (a.destroy(), b.destroy());
        server.close(() => resolve());
      }),
  );
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    cut() {
      for (const [a, b] of [...pairs]) (a.destroy(), b.destroy());
      pairs.clear();
    },
    refuse(on) {
      refusing = on;
    },
    swallowUpstream(on) {
      swallowing = on;
    },
  };
}
