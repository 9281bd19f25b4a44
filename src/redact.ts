// Secrets that must never reach a log line or an error message shown to an operator:
// credentials in URLs, tokens in query strings, and the values of secret-named fields.

export const CENSOR = '[redacted]';

/** Field names whose values are secrets wherever they appear (matched case-insensitively, whole name). */
export const secretKeys = [
  'password', 'passwd', 'passphrase', 'secret', 'clientSecret', 'client_secret',
  'token', 'authToken', 'auth_token', 'accessToken', 'access_token', 'refreshToken', 'refresh_token', 'apiToken', 'api_token', 'idToken', 'id_token',
  'apiKey', 'api_key', 'privateKey', 'private_key', 'secretKey', 'secret_key', 'secretAccessKey', 'secret_access_key', 'signingKey', 'signing_key',
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'credentials',
] as const;

const keyAlternation = secretKeys.map((k) => k.replace(/[-_]/g, '[-_]?')).join('|');

// scheme://user:password@host -> scheme://user:[redacted]@host. The password stops at the first
// character a URL cannot hold unencoded there, so a quote or space ends it in any surrounding text.
const urlPassword = /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s"'<>\\]*):[^@/?#\s"'<>\\]+@/gi;
// ?access_token=abc, &token=abc, ?password=abc: secrets in query strings (and form bodies).
const queryParam = new RegExp(`([?&;](?:${keyAlternation})=)[^&#\\s"'<>\\\\]*`, 'gi');
// "password":"abc" at any depth of a JSON line, for nesting deeper than pino's redact paths reach.
const jsonField = new RegExp(`("(?:${keyAlternation})":)"(?:[^"\\\\]|\\\\.)*"`, 'gi');

const secretKey = new RegExp(`^(?:${keyAlternation})$`, 'i');

/** Whether a field of this name holds a secret (`password`, `apiToken`, `Authorization`...). */
export function isSecretKey(name: string): boolean {
  return secretKey.test(name);
}

/** Credentials in any URL, and secret query parameters, replaced in free text. */
export function redactText(text: string): string {
  return text.replace(urlPassword, `$1:${CENSOR}@`).replace(queryParam, `$1${CENSOR}`);
}

/** A serialized JSON log line with every secret replaced: URL credentials, query tokens, secret fields at any depth. */
export function redactJsonLine(line: string): string {
  return redactText(line).replace(jsonField, `$1"${CENSOR}"`);
}

/**
 * pino `redact` paths: secret fields at the top level of a record (any value type) and the request
 * headers fastify and our code may log. No `*.` wildcards: each costs ~1 µs per line, and the JSON
 * pass in redactJsonLine already catches string secrets at any depth.
 */
export const redactPaths: string[] = [
  ...secretKeys.map((k) => (/^[a-z_]+$/i.test(k) ? k : `["${k}"]`)),
  ...['req.headers', 'headers', 'res.headers'].flatMap((h) => ['authorization', '["proxy-authorization"]', 'cookie', '["set-cookie"]'].map((k) => (k.startsWith('[') ? `${h}${k}` : `${h}.${k}`))),
];
