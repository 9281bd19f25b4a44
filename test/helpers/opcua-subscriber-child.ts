// A PLC-like OPC UA subscriber in its own process, so a test can freeze it (SIGSTOP: it stops
// reading its socket and sending publish requests) or kill it. argv: endpoint, client PKI folder,
// user, password, station node prefix. Prints "ready" once subscribed.
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import { AttributeIds, ClientMonitoredItem, ClientSubscription, MessageSecurityMode, OPCUAClient, SecurityPolicy, TimestampsToReturn, UserTokenType } from 'node-opcua-client';


// A test starts this with arguments; `node --test dist/test/` also loads every file here, bare.
if (process.argv.length < 4) process.exit(0);
const [endpoint, pki, userName, password, prefix] = process.argv.slice(2) as [string, string, string, string, string];
const cm = new OPCUACertificateManager({ rootFolder: pki, automaticallyAcceptUnknownCertificate: true });
await cm.initialize();
const client = OPCUAClient.create({
  applicationName: 'linesight-test-client',
  applicationUri: 'urn:linesight:test-client',
  clientCertificateManager: cm,
  securityMode: MessageSecurityMode.SignAndEncrypt,
  securityPolicy: SecurityPolicy.Basic256Sha256,
  endpointMustExist: false,
  connectionStrategy: { maxRetry: 0 },
  // Short, so the server closes the session soon after this process stops talking.
  requestedSessionTimeout: 3000,
});
await client.connect(endpoint);
const session = await client.createSession({ type: UserTokenType.UserName, userName, password });
const sub = ClientSubscription.create(session, { requestedPublishingInterval: 50, requestedLifetimeCount: 60, requestedMaxKeepAliveCount: 10, publishingEnabled: true });
for (const n of ['Sequence', 'PartId', 'Snapshot']) {
  ClientMonitoredItem.create(sub, { nodeId: `${prefix}.${n}`, attributeId: AttributeIds.Value }, { samplingInterval: 0, queueSize: 1000, discardOldest: false }, TimestampsToReturn.Both);
}
await new Promise((r) => setTimeout(r, 500));
process.stdout.write('ready\n');
