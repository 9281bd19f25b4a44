// A Sparkplug edge node in its own process, so a test can kill it (SIGKILL: no goodbye, the
// broker must send the NDEATH will). argv: broker URL, bdSeq file. Prints "born" once NBIRTH is out.
import { systemClock } from '../../src/clock.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { SparkplugPublisher } from '../../src/publish/sparkplug.js';


// A test starts this with arguments; `node --test dist/test/` also loads every file here, bare.
if (process.argv.length < 4) process.exit(0);
const [url, bdSeqFile] = process.argv.slice(2) as [string, string];
const publisher = new SparkplugPublisher({
  url,
  groupId: 'L7',
  edgeNodeId: 'box-1',
  stations: ['cam1'],
  view: () => ({ cameraState: 'streaming', cameraRunning: true, model: 'label-orientation@1.0.0' }),
  bdSeqFile,
  bus: new EventBus(silentLogger),
  clock: systemClock,
  log: silentLogger,
});
await publisher.start();
const wait = setInterval(() => {
  if (publisher.health().connected) {
    clearInterval(wait);
    process.stdout.write('born\n');
  }
}, 20);
