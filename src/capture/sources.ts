// Source kinds by config `type`. A new camera kind is one file plus one line here.
import type { Clock } from '../clock.js';
import type { SourceConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { FfmpegSource } from './ffmpeg.js';
import { GstreamerSource } from './gstreamer.js';
import { MjpegSource } from './mjpeg.js';
import { OpencvSource } from './opencv.js';
import { ReplaySource } from './replay.js';
import type { FrameSource } from './source.js';

export function createSource(camera: string, config: SourceConfig, deps: { clock: Clock; log: Logger }): FrameSource {
  switch (config.type) {
    case 'replay':
      return new ReplaySource(camera, config, deps);
    case 'ffmpeg':
      return new FfmpegSource(camera, config, deps);
    case 'gstreamer':
      return new GstreamerSource(camera, config, deps);
    case 'mjpeg':
      return new MjpegSource(camera, config, deps);
    case 'opencv':
      return new OpencvSource(camera, config, deps);
  }
}
