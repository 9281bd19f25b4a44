// Source kinds by config `type`. A new camera kind is one file plus one line here.
import type { Clock } from '../clock.js';
import type { SourceConfig } from '../config/schema.js';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import { ReplaySource } from './replay.js';
import type { FrameSource } from './source.js';

export function createSource(camera: string, config: SourceConfig, deps: { clock: Clock; log: Logger }): FrameSource {
  switch (config.type) {
    case 'replay':
      return new ReplaySource(camera, config, deps.clock);
    default:
      throw new LinesightError('LS_ERR_SOURCE_UNAVAILABLE', undefined, { args: [config.type] });
  }
}
