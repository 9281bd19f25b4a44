// Source kinds by config `type`. A new camera kind is one file plus one line here.
import type { Clock } from '../clock.js';
import type { SourceConfig } from '../config/schema.js';
import { ReplaySource } from './replay.js';
import type { FrameSource } from './source.js';

export function createSource(camera: string, config: SourceConfig, clock: Clock): FrameSource {
  switch (config.type) {
    case 'replay':
      return new ReplaySource(camera, config, clock);
  }
}
