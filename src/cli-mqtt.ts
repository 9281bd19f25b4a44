// `linesight mqtt …`: make password hashes for the embedded broker's users. The password comes
// from stdin, never from the command line (which ps and shell histories show).
import { hashPassword } from './publish/password-hash.js';

export const mqttUsage = `linesight mqtt <command>

  hash-password        read a password from stdin (first line), print its scrypt hash for mqtt.embedded.users
`;

type Io = { out: (s: string) => void; err: (s: string) => void; stdin: AsyncIterable<Buffer | string> };

export async function mqttCommand(argv: string[], io: Io): Promise<number> {
  if (argv[0] !== 'hash-password' || argv.length > 1) {
    io.err(mqttUsage);
    return 2;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of io.stdin) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    chunks.push(b);
    size += b.length;
    if (size > 4096 || b.includes(10)) break;
  }
  const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (!password) {
    io.err('linesight: mqtt hash-password: no password on stdin (e.g. `printf %s "$PW" | linesight mqtt hash-password`)\n');
    return 2;
  }
  if (password.length > 1024) {
    io.err('linesight: mqtt hash-password: password longer than 1024 characters\n');
    return 2;
  }
  io.out(`${await hashPassword(password)}\n`);
  return 0;
}
