// From a config file on disk to a plain value, refusing everything that is not a small YAML
// mapping: a directory, a device, a huge or binary file, broken YAML, an alias bomb. Each refusal
// names the file and, where there is one, the line and column.
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { isAlias, isCollection, isPair, isScalar, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { LinesightError } from '../errors.js';

/** A config file is a few KiB; anything far larger is a mistake (or an attack) and is not read into memory. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** yaml's own limit on how often an alias may be expanded; a real config has a handful. */
const MAX_ALIAS_COUNT = 100;
/** Values an alias bomb may build before we name the alias that crossed it (for the error's position). */
const MAX_EXPANDED_NODES = 10_000;

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function fileError(file: string, reason: string, cause?: unknown): LinesightError {
  return new LinesightError('LS_ERR_CONFIG_FILE', reason, { args: [file], cause });
}

function parseError(origin: string, where: { line: number; col: number } | undefined, problem: string): LinesightError {
  return new LinesightError('LS_ERR_CONFIG_PARSE', where ? `line ${where.line}, column ${where.col}: ${problem}` : problem, { args: [origin] });
}

/** The file's bytes, at most MAX_CONFIG_BYTES of them; only a regular file is opened (a FIFO would block, /dev/zero never ends). */
export function readConfigBytes(file: string): Buffer {
  let fd: number | undefined;
  try {
    const before = statSync(file);
    if (before.isDirectory()) throw fileError(file, 'it is a directory; expected a YAML file');
    if (!before.isFile()) throw fileError(file, 'not a regular file; expected a YAML file');
    if (before.size > MAX_CONFIG_BYTES) throw fileError(file, `${mib(before.size)} is larger than the ${mib(MAX_CONFIG_BYTES)} a config file may have`);
    fd = openSync(file, 'r');
    // Read one byte past the limit, so a file that grew since stat is still caught.
    const buf = Buffer.alloc(Math.min(fstatSync(fd).size, MAX_CONFIG_BYTES) + 1);
    let got = 0;
    for (let n; got < buf.length && (n = readSync(fd, buf, got, buf.length - got, null)) > 0; ) got += n;
    if (got > MAX_CONFIG_BYTES) throw fileError(file, `larger than the ${mib(MAX_CONFIG_BYTES)} a config file may have`);
    return buf.subarray(0, got);
  } catch (err) {
    if (err instanceof LinesightError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw fileError(file, reason, err);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function lineCol(text: string, index: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, col: index - start + 1 };
}

/** UTF-8 text, or LS_ERR_CONFIG_PARSE at the first byte that is not (a binary file, a Latin-1 editor). */
export function decodeConfig(bytes: Buffer, origin: string): string {
  const text = bytes.toString('utf8');
  if (!isUtf8(bytes)) {
    // The text before the first bad sequence decoded exactly, so its byte length is the bad byte's offset;
    // a U+FFFD that the file really contains is told apart by its own bytes (EF BF BD).
    let offset = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.codePointAt(i)!;
      if (c === 0xfffd && !(bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd)) {
        throw parseError(origin, lineCol(text, i), `byte 0x${bytes[offset]!.toString(16).padStart(2, '0')} at offset ${offset} is not UTF-8 text; a config file is UTF-8 YAML (is this a binary file?)`);
      }
      offset += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
      if (c > 0xffff) i++;
    }
  }
  const nul = text.indexOf('\0');
  if (nul !== -1) throw parseError(origin, lineCol(text, nul), 'a NUL byte; a config file is YAML text (is this a binary file?)');
  return text;
}

/** yaml's wording, with what to do about it where the wording alone does not say. */
function describeYamlError(code: string, message: string, text: string, pos: number): string {
  switch (code) {
    case 'TAB_AS_INDENT':
      return 'a tab used for indentation; YAML indents with spaces';
    case 'DUPLICATE_KEY': {
      const key = /^[^:\n]*/.exec(text.slice(pos))![0].trim();
      return `duplicate key ${JSON.stringify(key)}; each key may appear once in a mapping`;
    }
    case 'MULTIPLE_DOCS':
      return 'a second YAML document (after "---"); a config file holds one';
    default:
      return /Maximum call stack/.test(message) ? 'nested too deeply' : message.replace(/ at line \d+, column \d+[\s\S]*$/, '');
  }
}

/**
 * Where an alias bomb goes off: walking aliases in document order, the first one at which the
 * values built by expanding aliases pass MAX_EXPANDED_NODES (a "billion laughs" nests anchors
 * whose aliases multiply).
 */
function findAliasBomb(doc: Document): Node | undefined {
  const anchors = new Map<string, Node>();
  const size = new Map<unknown, number>();
  const sizeOf = (node: unknown, depth: number): number => {
    if (depth > 64) return 1;
    const known = size.get(node);
    if (known !== undefined) return known;
    let n = 1;
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      n = target ? sizeOf(target, depth + 1) : 1;
    } else if (isPair(node)) {
      n = sizeOf(node.key, depth + 1) + sizeOf(node.value, depth + 1);
    } else if (isCollection(node)) {
      for (const item of node.items) n += sizeOf(item, depth + 1);
    }
    n = Math.min(n, Number.MAX_SAFE_INTEGER);
    size.set(node, n);
    return n;
  };
  let total = 0;
  let culprit: Node | undefined;
  visit(doc, {
    Node: (_key, node) => {
      if (isAlias(node)) {
        total += sizeOf(node, 0);
        if (total > MAX_EXPANDED_NODES) {
          culprit = node;
          return visit.BREAK;
        }
      } else if (node.anchor) {
        anchors.set(node.anchor, node);
      }
      return undefined;
    },
  });
  return culprit;
}

function nodeAt(lc: LineCounter, node: Node | undefined): { line: number; col: number } | undefined {
  return node?.range ? lc.linePos(node.range[0]) : undefined;
}

function findAlias(doc: Document, source: string): Node | undefined {
  let found: Node | undefined;
  visit(doc, {
    Alias: (_key, node) => {
      if (node.source !== source) return undefined;
      found = node;
      return visit.BREAK;
    },
  });
  return found;
}

/** YAML text to a plain value; every syntax problem, alias bomb and unresolvable alias is LS_ERR_CONFIG_PARSE. */
export function parseYaml(text: string, origin: string, options: { mapping?: boolean } = {}): unknown {
  const lc = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter: lc });
  if (doc.errors.length) {
    const shown = doc.errors.slice(0, 3).map((e) => {
      const { line, col } = lc.linePos(e.pos[0]);
      return `line ${line}, column ${col}: ${describeYamlError(e.code, e.message, text, e.pos[0])}`;
    });
    const more = doc.errors.length > shown.length ? ` (and ${doc.errors.length - shown.length} more)` : '';
    throw new LinesightError('LS_ERR_CONFIG_PARSE', shown.join('; ') + more, { args: [origin] });
  }
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    throw new LinesightError('LS_ERR_CONFIG_EMPTY', 'it needs at least a `stations:` list (see `linesight config-reference`)', { args: [origin] });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const message = (err as Error).message;
    if (/Excessive alias count/.test(message)) {
      throw parseError(origin, nodeAt(lc, findAliasBomb(doc)), 'aliases expand to too many values (a YAML "billion laughs" alias bomb?); a config needs no more than a few aliases');
    }
    const unresolved = /^Unresolved alias.*: (.+)$/.exec(message);
    if (unresolved) throw parseError(origin, nodeAt(lc, findAlias(doc, unresolved[1]!)), `alias *${unresolved[1]} has no anchor &${unresolved[1]} before it`);
    throw parseError(origin, undefined, message);
  }
  if (options.mapping !== false && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    const got = Array.isArray(value) ? 'a list' : value === null ? 'null' : `a ${typeof value} (${JSON.stringify(value).slice(0, 40)})`;
    throw new LinesightError('LS_ERR_CONFIG_INVALID', `${origin}: the top level is ${got}; expected a mapping of settings (stations:, line:, mqtt:, ...)`);
  }
  return value;
}
