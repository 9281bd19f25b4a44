// Client certificate material for the cloud broker, from files or PEM text (env), read and
// checked once at start: a missing file or a key that does not belong to the certificate stops
// start-up naming the input; an expired certificate is reported (the broker will refuse it)
// without stopping inspection. Nothing here ever logs PEM contents.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { CloudConfig } from '../config/schema.js';
import { LinesightError } from '../errors.js';
import { readPem } from './mqtt-tls.js';

export interface CloudTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  ALPNProtocols?: string[];
  rejectUnauthorized: boolean;
  servername?: string;
}

function pem(file: string | undefined, text: string | undefined, what: string, env: string): Buffer | undefined {
  if (text !== undefined) {
    if (!text.includes('-----BEGIN ')) throw new LinesightError('LS_ERR_CLOUD_TLS', `${env}: not PEM text`, { args: [what] });
    return Buffer.from(text);
  }
  if (file === undefined) return undefined;
  try {
    return readPem(file, what);
  } catch (err) {
    throw new LinesightError('LS_ERR_CLOUD_TLS', (err as Error).message, { args: [what], cause: err });
  }
}

export function cloudTlsOptions(tls: CloudConfig['tls']): CloudTls {
  const ca = pem(tls.ca, tls.caPem, 'cloud.tls.ca', 'LINESIGHT_CLOUD_CA');
  const cert = pem(tls.cert, tls.certPem, 'cloud.tls.cert', 'LINESIGHT_CLOUD_CERT');
  const key = pem(tls.key, tls.privateKey, 'cloud.tls.key', 'LINESIGHT_CLOUD_KEY');
  if (!!cert !== !!key) throw new LinesightError('LS_ERR_CLOUD_TLS', 'a client certificate and its key go together', { args: [cert ? 'cloud.tls.key' : 'cloud.tls.cert'] });
  if (cert && key) {
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(cert);
    } catch (err) {
      throw new LinesightError('LS_ERR_CLOUD_TLS', 'not a readable X.509 certificate', { args: ['cloud.tls.cert'], cause: err });
    }
    let matches: boolean;
    try {
      matches = x509.checkPrivateKey(createPrivateKey(key));
    } catch (err) {
      throw new LinesightError('LS_ERR_CLOUD_TLS', 'not a readable private key', { args: ['cloud.tls.key'], cause: err });
    }
    if (!matches) throw new LinesightError('LS_ERR_CLOUD_TLS', 'the key does not belong to the client certificate', { args: ['cloud.tls.key'] });
  }
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(tls.alpn ? { ALPNProtocols: [tls.alpn] } : {}),
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.servername ? { servername: tls.servername } : {}),
  };
}

/** Why the client certificate will be refused by its dates, or null: for health and the log at start. */
export function certificateDateProblem(cert: Buffer | undefined, nowMs: number): string | null {
  if (!cert) return null;
  const x509 = new X509Certificate(cert);
  if (nowMs > Date.parse(x509.validTo)) return `client certificate expired on ${new Date(x509.validTo).toISOString()}`;
  if (nowMs < Date.parse(x509.validFrom)) return `client certificate not valid before ${new Date(x509.validFrom).toISOString()}`;
  return null;
}

/** A connection error in words an operator can act on; never contains key material. */
export function describeConnectError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; reasonCode?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : typeof e?.code === 'number' ? String(e.code) : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const text = `${code} ${message}`;
  const known: Array<[RegExp, string]> = [
    [/CERTIFICATE_REQUIRED|certificate required|PEER_DID_NOT_RETURN_A_CERTIFICATE/i, 'the broker requires a client certificate and got none (cloud.tls.cert/key)'],
    [/ALERT_CERTIFICATE_EXPIRED|certificate expired/i, 'the broker refused our client certificate: expired'],
    [/ALERT_UNKNOWN_CA|unknown ca/i, 'the broker does not trust the CA that signed our client certificate'],
    [/ALERT_BAD_CERTIFICATE|bad certificate|CERTIFICATE_UNKNOWN/i, 'the broker refused our client certificate'],
    [/CERT_HAS_EXPIRED/, "the broker's certificate has expired"],
    [/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT/, "the broker's certificate is not signed by the configured CA (cloud.tls.ca)"],
    [/ERR_TLS_CERT_ALTNAME_INVALID/, "the broker's certificate does not name this host (cloud.tls.servername)"],
    [/ECONNREFUSED/, 'connection refused (broker down or wrong port)'],
    [/ENOTFOUND|EAI_AGAIN/, 'broker host name does not resolve'],
    [/ETIMEDOUT|connack timeout|timeout/i, 'no answer from the broker in time'],
    [/ECONNRESET|EPIPE/, 'the broker closed the connection (refused the client certificate or the client id?)'],
    [/Not authorized|Bad username|Client Identifier not valid|Banned/i, `the broker refused the connection: ${message}`],
  ];
  for (const [re, words] of known) if (re.test(text)) return code ? `${words} [${code}]` : words;
  return code ? `${message} [${code}]` : message;
}
