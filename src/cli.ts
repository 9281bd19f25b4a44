#!/usr/bin/env -S node --max-semi-space-size=2
// linesight run [--config FILE] | check-config FILE | config-reference | models | bench | mqtt
import { parseArgs } from 'node:util';
import { App } from './app.js';
import { loadConfigFile, loadDefaultConfig } from './config/load.js';
import { configReference } from './config/reference.js';
import type { Config } from './config/schema.js';
import { LinesightError, isLinesightError } from './errors.js';
import { redactText } from './redact.js';
import { ModelRegistry } from './models/registry.js';
import { loadPublicKey } from './models/signature.js';
import { packageVersion } from './version.js';
import { modelsCommand } from './cli-models.js';
import { mqttCommand } from './cli-mqtt.js';

const usage = `linesight ${packageVersion}

Usage:
  linesight run [--config FILE]     inspect parts (no --config: the bundled demo)
  linesight check-config FILE       validate a config file and exit
  linesight config-reference        print the config reference (Markdown)
  linesight models ...              list, sign, verify, activate, roll back model versions
  linesight bench [--quick] [--model M] [--frame SIZE] [--budget MS] [--out DIR]
                                    size this box for a line (linesight bench --help)
  linesight mqtt hash-password      read a password on stdin, print its hash for mqtt.embedded.users
  linesight --version | --help
`;

/**
 * A LinesightError is the user's input being wrong: its code and message, no stack. Only an
 * unexpected error (a bug) prints its stack. Either way, no credentials reach the terminal.
 */
function fail(err: unknown): number {
  if (isLinesightError(err)) {
    process.stderr.write(redactText(`linesight: ${err.code}: ${err.message}\n`));
    return 1;
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
    process.stderr.write(`linesight: ${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  process.stderr.write(redactText(`linesight: ${(err as Error)?.stack ?? String(err)}\n`));
  return 1;
}

function config(file: string | undefined): Config {
  return file ? loadConfigFile(file, process.env) : loadDefaultConfig(process.env);
}

async function run(file: string | undefined): Promise<number> {
  let cfg: Config;
  try {
    cfg = config(file);
  } catch (err) {
    return fail(err);
  }
  const app = new App(cfg);
  let stopping: Promise<void> | undefined;
  let firstSignalAt = 0;
  const shutdown = (signal: string) => {
    if (stopping) {
      // Ctrl-C under `npm start` arrives twice at once (from the terminal to the process group,
      // and relayed by npm): only a second signal a moment later means "stop now".
      if (performance.now() - firstSignalAt < 1000) return;
      app.log.warn({ signal }, 'second signal: exiting without draining');
      process.exit(130);
    }
    firstSignalAt = performance.now();
    app.log.info({ signal }, 'stopping: draining in-flight parts');
    stopping = app.stop();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  try {
    await app.start();
  } catch (err) {
    // A signal during start-up is a stop, not a failure.
    if (stopping) {
      await stopping;
      app.log.info('stopped during start-up');
      return 0;
    }
    return fail(err);
  }
  await new Promise<void>((resolve) => {
    const wait = () => (stopping ? stopping.then(resolve) : setTimeout(wait, 100));
    wait();
  });
  app.log.info('stopped');
  return 0;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'models') {
    try {
      return await modelsCommand(argv.slice(1), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: process.env });
    } catch (err) {
      return fail(err);
    }
  }
  if (argv[0] === 'bench') {
    try {
      // Loaded only here: `linesight run` carries none of the bench's code (or sharp, on the main thread).
      const { benchCommand } = await import('./cli-bench.js');
      return await benchCommand(argv.slice(1), { out: process.stdout, err: process.stderr });
    } catch (err) {
      return fail(err);
    }
  }
  if (argv[0] === 'mqtt') {
    try {
      return await mqttCommand(argv.slice(1), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), stdin: process.stdin });
    } catch (err) {
      return fail(err);
    }
  }
  // An unknown option is the user's mistake: fail() prints it with the usage, no stack.
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  if (values.version) {
    process.stdout.write(`${packageVersion}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(usage);
    return values.help ? 0 : 2;
  }
  switch (command) {
    case 'run':
      return run(values.config);
    case 'check-config': {
      const file = rest[0] ?? values.config;
      if (!file) {
        process.stderr.write('linesight: check-config needs a FILE\n');
        return 2;
      }
      try {
        const cfg = loadConfigFile(file, process.env);
        // Beyond the schema: every station's model must load from disk (manifest, checksum, signature).
        const registry = new ModelRegistry(cfg.models.directory!, { keys: cfg.models.publicKeys.map(loadPublicKey) });
        const problems: string[] = [];
        for (const [i, s] of cfg.stations.entries()) {
          await registry.resolve(s.model).catch((err: Error) => problems.push(`stations[${i}].model: ${err.message}`));
        }
        if (problems.length) throw new LinesightError('LS_ERR_CONFIG_INVALID', `${file}:\n  ${problems.join('\n  ')}`);
        process.stdout.write(`${file}: OK (${cfg.stations.length} station(s): ${cfg.stations.map((s) => `${s.id} ${s.model}`).join(', ')})\n`);
        return 0;
      } catch (err) {
        return fail(err);
      }
    }
    case 'config-reference':
      process.stdout.write(configReference());
      return 0;
    default:
      process.stderr.write(`linesight: unknown command "${command}"\n\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = fail(err);
  },
);
