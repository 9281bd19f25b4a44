// The service under test, in a process of its own (forked by load.ts), so the CPU and memory the
// bench reports are the service's alone, and its verdicts reach the bench over the local broker
// as they would reach a PLC gateway. Protocol over the IPC channel: the parent sends the load
// point; this process answers { ready, mqttUrl, provider } once the station runs, and stops
// (draining) on { stop } or when the parent goes away.
import { App } from '../app.js';
import { silentLogger } from '../log.js';
import { serviceConfig, type LoadPoint } from './service-config.js';

const send = (m: unknown) => process.send?.(m);

process.once('message', (msg: { point: LoadPoint; stateDir: string }) => {
  const app = new App(serviceConfig(msg.point, msg.stateDir), { log: silentLogger, write: () => undefined });
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= app.stop().finally(() => process.exit(0)));
  process.on('message', (m: { stop?: boolean }) => m.stop && void stop());
  process.on('disconnect', () => void stop());
  app.start().then(
    () => send({ ready: true, mqttUrl: app.mqttUrl, provider: app.stations[0]?.model?.provider ?? msg.point.provider }),
    (err: Error) => {
      send({ ready: false, error: `${(err as { code?: string }).code ?? 'error'}: ${err.message}` });
      process.exit(1);
    },
  );
});
