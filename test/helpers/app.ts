// The service as most tests run it: the embedded broker and the API on free ports, state in a
// temporary folder, no periodic summaries; `input` adds stations and overrides any of these.

import { App, type AppDeps } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from './env.js';

export async function startApp(t: Parameters<typeof tempDir>[0], input: Record<string, unknown>, deps: AppDeps = {}): Promise<App> {
  const config = buildConfig(
    { state: { directory: tempDir(t) }, mqtt: { embedded: { port: 0 } }, api: { port: 0 }, summary: { intervalMs: 0 }, ...input },
    { origin: 'test', baseDir: '/' },
  );
  const app = new App(config, { log: silentLogger, ...deps });
  await app.start();
  t.after(() => app.stop());
  return app;
}
