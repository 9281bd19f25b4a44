// Tar archives built entry by entry, for the entries real tools will not write (absolute paths,
// devices) and for bombs that must not exist on disk first.
import { Header } from 'tar';

type EntryTypeName = Header['type'];

export interface TarEntry {
  path: string;
  type?: EntryTypeName;
  /** The entry's bytes; or only `size`, for entries whose body is zeros. */
  body?: Buffer;
  size?: number;
  linkpath?: string;
}

/** The blocks of one tar stream, yielded a piece at a time so large zero bodies need no memory. */
export function* tarBlocks(entries: TarEntry[], trailingZeros = 0): Generator<Buffer> {
  const zeros = Buffer.alloc(1024 * 1024);
  for (const e of entries) {
    const size = e.body?.length ?? e.size ?? 0;
    const block = Buffer.alloc(512);
    new Header({ path: e.path, type: e.type ?? 'File', size, mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), ...(e.linkpath ? { linkpath: e.linkpath } : {}) }).encode(block, 0);
    yield block;
    if (e.body) yield e.body;
    else for (let left = size; left > 0; left -= zeros.length) yield zeros.subarray(0, Math.min(left, zeros.length));
    if (size % 512) yield Buffer.alloc(512 - (size % 512));
  }
  yield Buffer.alloc(1024);
  for (let left = trailingZeros; left > 0; left -= zeros.length) yield zeros.subarray(0, Math.min(left, zeros.length));
}

export function tarOf(entries: TarEntry[]): Buffer {
  return Buffer.concat([...tarBlocks(entries)]);
}
