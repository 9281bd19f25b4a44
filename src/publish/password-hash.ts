// Broker passwords are stored as self-describing scrypt hashes, `scrypt$N$r$p$salt$hash` (salt and
// hash base64), so the parameters can be raised later without breaking stored users, and a leaked
// users file does not give the passwords away.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { LinesightError } from '../errors.js';

const defaults = { N: 16384, r: 8, p: 1, keyLength: 32 };
// Parameters beyond these would let a hostile users file make every CONNECT cost seconds of CPU
// and hundreds of MB (scrypt memory is 128 * N * r bytes).
const maxN = 1 << 20;
const maxR = 32;
const maxP = 16;

function derive(password: string, salt: Buffer, N: number, r: number, p: number, keyLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, keyLength, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string, params: Partial<typeof defaults> = {}): Promise<string> {
  const { N, r, p, keyLength } = { ...defaults, ...params };
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, r, p, keyLength);
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

/** Checks the form of a stored hash; throws LS_ERR_PASSWORD_HASH naming what is wrong. */
export function parsePasswordHash(stored: string): ParsedHash {
  const parts = stored.split('$');
  const bad = (why: string) => new LinesightError('LS_ERR_PASSWORD_HASH', `${why}; expected scrypt$N$r$p$salt$hash (make one with \`linesight mqtt hash-password\`)`);
  if (parts.length !== 6 || parts[0] !== 'scrypt') throw bad('not an scrypt hash');
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (!Number.isInteger(N) || N < 2 || N > maxN || (N & (N - 1)) !== 0) throw bad(`N must be a power of two up to ${maxN}`);
  if (!Number.isInteger(r) || r < 1 || r > maxR) throw bad(`r must be 1-${maxR}`);
  if (!Number.isInteger(p) || p < 1 || p > maxP) throw bad(`p must be 1-${maxP}`);
  const salt = Buffer.from(parts[4]!, 'base64');
  const key = Buffer.from(parts[5]!, 'base64');
  if (salt.length < 8) throw bad('salt shorter than 8 bytes');
  if (key.length < 16 || key.length > 64) throw bad('hash must be 16-64 bytes');
  return { N, r, p, salt, key };
}

/** Constant-time comparison of a password against a parsed hash. */
export async function verifyPassword(password: string | Buffer, hash: ParsedHash): Promise<boolean> {
  const text = typeof password === 'string' ? password : password.toString('utf8');
  const key = await derive(text, hash.salt, hash.N, hash.r, hash.p, hash.key.length);
  return timingSafeEqual(key, hash.key);
}
