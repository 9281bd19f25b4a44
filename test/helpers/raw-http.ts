// A raw HTTP client for hostile requests: it streams a body as fast as the socket takes it and
// records how much it had sent when the answer came, which fetch cannot tell.
import { connect, type Socket } from 'node:net';

export interface StreamedAnswer {
  status: number;
  /** The answer's head and body as text. */
  text: string;
  /** Body bytes the client had handed to its socket when the first byte of the answer arrived. */
  sentAtAnswer: number;
  /** The server closed the connection (within `closeMs` of the answer). */
  closed: boolean;
}

/**
 * Sends `head` (request line and headers, without the blank line), then up to `total` body bytes
 * (chunked encoding when `chunked`), stopping as soon as the server answers or closes.
 */
export function streamUntilAnswered(url: string, head: string, options: { total: number; chunked: boolean; closeMs?: number }): Promise<StreamedAnswer> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  const framed = options.chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk;
  return new Promise((resolve, reject) => {
    let sent = 0;
    let sentAtAnswer = -1;
    let answered = false;
    let received = '';
    let closed = false;
    let timedOut = false;
    const finish = () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
      resolve({ status, text: received, sentAtAnswer, closed });
    };
    socket.on('data', (d) => {
      if (!answered) sentAtAnswer = sent;
      answered = true;
      received += d.toString('latin1');
    });
    socket.on('error', () => {}); // EPIPE/ECONNRESET once the server closes: expected
    socket.on('close', () => {
      closed = answered && !timedOut;
      clearTimeout(timer);
      finish();
    });
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
      if (!answered) reject(new Error(`no answer after sending ${sent} bytes`));
    }, options.closeMs ?? 15_000);
    socket.once('connect', async () => {
      socket.write(`${head}\r\n\r\n`);
      while (!answered && !socket.destroyed && sent < options.total) {
        sent += chunk.length;
        if (!socket.write(framed)) await new Promise((r) => socket.once('drain', r).once('close', r));
      }
    });
  });
}

/** Opens a chunked request, sends `bytes` of body and leaves it open; the caller destroys the socket. */
export function openChunkedUpload(url: string, head: string, bytes: number): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => {});
  return new Promise((resolve) => {
    socket.once('connect', () => {
      socket.write(`${head}\r\n\r\n${bytes.toString(16)}\r\n`);
      socket.write(Buffer.alloc(bytes, 0x1f), () => resolve(socket));
    });
  });
}
