// Signed model versions: an ed25519 signature over the canonical manifest (sorted keys, no
// `signature` field). The manifest pins the model file's sha256, so one signature covers the
// weights, the preprocessing and the decision thresholds together.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LinesightError } from '../errors.js';
import type { ModelManifest } from './manifest.js';

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The bytes that are signed: the manifest as parsed from disk, minus its signature. */
export function signedBytes(manifest: Record<string, unknown>): Buffer {
  const { signature: _omit, ...rest } = manifest;
  return Buffer.from(canonical(rest), 'utf8');
}

export function signManifest(manifest: Record<string, unknown>, privateKey: KeyObject): string {
  return sign(null, signedBytes(manifest), privateKey).toString('base64');
}

export function loadPublicKey(path: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new LinesightError('LS_ERR_SIGNATURE', `cannot read public key ${path}: ${(err as Error).message}`);
  }
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`expected an ed25519 key, got ${key.asymmetricKeyType}`);
    return key;
  } catch (err) {
    throw new LinesightError('LS_ERR_SIGNATURE', `public key ${path}: ${(err as Error).message}`);
  }
}

export function loadPrivateKey(path: string): KeyObject {
  const key = createPrivateKey(readFileSync(path, 'utf8'));
  if (key.asymmetricKeyType !== 'ed25519') throw new LinesightError('LS_ERR_SIGNATURE', `${path}: expected an ed25519 private key, got ${key.asymmetricKeyType}`);
  return key;
}

export function generateSigningKeys(): { publicPem: string; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/**
 * With trusted keys configured, a version must carry a signature that one of them verifies.
 * Without keys nothing is required (and an existing signature is not checked).
 */
export function checkSignature(manifest: ModelManifest, raw: Record<string, unknown>, keys: readonly KeyObject[]): void {
  if (!keys.length) return;
  const id = `${manifest.name}@${manifest.version}`;
  if (!manifest.signature) throw new LinesightError('LS_ERR_SIGNATURE', `${id} is not signed, and trusted keys are configured`);
  let sig: Buffer;
  try {
    sig = Buffer.from(manifest.signature, 'base64');
  } catch {
    throw new LinesightError('LS_ERR_SIGNATURE', `${id}: signature is not base64`);
  }
  const data = signedBytes(raw);
  if (!keys.some((k) => verify(null, data, k, sig))) {
    throw new LinesightError('LS_ERR_SIGNATURE', `${id}: signature does not verify with any of the ${keys.length} trusted key(s)`);
  }
}
