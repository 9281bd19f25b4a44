// TLS material for MQTT, read once at start so a wrong path or a file that is not PEM stops
// start-up naming the file, instead of surfacing later as an opaque handshake failure.
import { readFileSync } from 'node:fs';
import type { MqttConfig } from '../config/schema.js';
import { LinesightError } from '../errors.js';

export function readPem(file: string, what: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new LinesightError('LS_ERR_MQTT_TLS', `${what}: ${reason}`, { args: [file], cause: err });
  }
  if (!data.includes('-----BEGIN ')) throw new LinesightError('LS_ERR_MQTT_TLS', `${what}: not a PEM file`, { args: [file] });
  return data;
}

/** The mqtt.js connect options for `mqtt.tls` (empty without it). */
export interface ClientTlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
}

export function clientTlsOptions(tls: MqttConfig['tls']): ClientTlsOptions {
  if (!tls) return {};
  if (!!tls.cert !== !!tls.key) throw new LinesightError('LS_ERR_MQTT_TLS', 'mqtt.tls.cert and mqtt.tls.key go together', { args: [tls.cert ?? tls.key ?? ''] });
  return {
    ...(tls.ca ? { ca: readPem(tls.ca, 'mqtt.tls.ca') } : {}),
    ...(tls.cert ? { cert: readPem(tls.cert, 'mqtt.tls.cert') } : {}),
    ...(tls.key ? { key: readPem(tls.key, 'mqtt.tls.key') } : {}),
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.servername ? { servername: tls.servername } : {}),
  };
}
