// What a plant asks of an OPC UA server's security, in node-opcua's terms: signed (and encrypted)
// endpoints only, unless None is asked for; an application certificate made on first start and kept
// in the PKI folder; client certificates refused until someone moves them from rejected/ to
// trusted/certs (never trusted automatically); refusals counted.
import { mkdirSync } from 'node:fs';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import { SecurityPolicy } from 'node-opcua-secure-channel';
import { MessageSecurityMode } from 'node-opcua-service-secure-channel';
import { StatusCodes, type StatusCode } from 'node-opcua-status-code';
import type { OpcUaConfig } from '../config/schema.js';
import { LinesightError } from '../errors.js';

export function securityPolicies(config: Pick<OpcUaConfig, 'securityPolicies' | 'allowInsecure'>): SecurityPolicy[] {
  const policies = config.securityPolicies.map((p) => SecurityPolicy[p]);
  return config.allowInsecure ? [SecurityPolicy.None, ...policies] : policies;
}

export function securityModes(config: Pick<OpcUaConfig, 'securityModes' | 'allowInsecure'>): MessageSecurityMode[] {
  const modes = config.securityModes.map((m) => MessageSecurityMode[m]);
  return config.allowInsecure ? [MessageSecurityMode.None, ...modes] : modes;
}

type StatusCallback = (err: Error | null, status?: StatusCode) => void;

/** The server's certificate store; counts the client certificates it refuses (untrusted, expired, revoked...). */
export class CountingCertificateManager extends OPCUACertificateManager {
  #refused = 0;

  get refused(): number {
    return this.#refused;
  }

  // node-opcua calls both forms (callback and promise); each refusal counts once.
  override checkCertificate(chain: Buffer | Buffer[], callback?: StatusCallback): Promise<StatusCode>;
  override checkCertificate(chain: never, callback?: never): never {
    const result = new Promise<StatusCode>((resolve, reject) =>
      super.checkCertificate(chain, ((err: Error | null, status?: StatusCode) => (err ? reject(err) : resolve(status!))) as never),
    ).then((status) => {
      if (!status.equals(StatusCodes.Good)) this.#refused++;
      return status;
    });
    if (!callback) return result as never;
    const cb = callback as StatusCallback;
    result.then((s) => cb(null, s), (err: Error) => cb(err));
    return undefined as never;
  }
}

/** The PKI folder (own/, trusted/, rejected/, issuers/), created if missing. */
export async function openCertificateStore(directory: string): Promise<CountingCertificateManager> {
  try {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const store = new CountingCertificateManager({ rootFolder: directory, automaticallyAcceptUnknownCertificate: false, keySize: 2048 });
    await store.initialize();
    return store;
  } catch (err) {
    throw new LinesightError('LS_ERR_OPCUA_PKI', (err as Error).message, { args: [directory], cause: err });
  }
}
