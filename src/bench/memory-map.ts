// Where a process's resident memory is, from /proc/<pid>/smaps (Linux), in the classes that
// decide what can be done about it: the node binary's pages (code and read-only data touched so
// far: shared, reclaimable, and fixed by the Node.js version), other mapped files (ONNX Runtime,
// libvips, the addons), the main thread's malloc heap, and other anonymous memory (V8's heaps,
// the other threads' malloc arenas, buffers outside V8, stacks). The figures add up to the RSS.

export interface RssBreakdown {
  nodeBinaryMiB: number;
  librariesMiB: number;
  /** glibc's main arena ([heap]): the main thread's malloc, frame buffers included. */
  mallocHeapMiB: number;
  /** V8 heaps, worker threads' malloc arenas, anonymous mmaps (large buffers), stacks. */
  anonymousMiB: number;
  totalMiB: number;
}

const mib = (kB: number) => Math.round((kB / 1024) * 10) / 10;

/** Sums the Rss of each mapping in `smaps` text by class; `nodePath` is the node binary's real path. */
export function classifySmaps(smaps: string, nodePath: string): RssBreakdown {
  const kB = { node: 0, libs: 0, heap: 0, anon: 0 };
  let cls: keyof typeof kB = 'anon';
  for (const line of smaps.split('\n')) {
    // A mapping's header: "start-end perms offset dev inode [path]"; its fields follow, one per line.
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) {
      const path = header[1]!.trim();
      cls = path === nodePath ? 'node' : path === '[heap]' ? 'heap' : path.startsWith('/') ? 'libs' : 'anon';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) kB[cls] += Number(rss[1]);
  }
  return {
    nodeBinaryMiB: mib(kB.node),
    librariesMiB: mib(kB.libs),
    mallocHeapMiB: mib(kB.heap),
    anonymousMiB: mib(kB.anon),
    totalMiB: mib(kB.node + kB.libs + kB.heap + kB.anon),
  };
}
