/**
 * A minimal, streaming tar reader for extracting a few known regular files from an archive
 * (the CIFAR-10 tar.gz). It understands ustar/GNU/pax headers well enough to get each member's
 * path, type and size; it never creates directories from the archive, links, devices or
 * anything but the regular files the caller picks, and it refuses any output path that would
 * land outside the target directory.
 */
import * as fs from 'fs';
import * as path from 'path';

const BLOCK = 512;

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface TarEntry {
  /** The member's path as stored (pax or GNU long names applied). */
  path: string;
  type: TarEntryType;
  size: number;
}

/**
 * Decides what to do with a member: a path relative to the target directory to write a regular
 * file to, or null to skip it.
 */
export type TarPick = (entry: TarEntry) => string | null;

/**
 * Reads a tar stream (already decompressed) and writes the picked regular files under `destDir`.
 * Each file is written to a temporary name and renamed when complete, so an interrupted
 * extraction never leaves a partial file under its final name. Returns the paths written.
 * `label` names the archive in error messages.
 */
export async function extractTar(source: AsyncIterable<Buffer>, destDir: string, pick: TarPick, label: string): Promise<string[]> {
  const reader = new ChunkReader(source);
  const written: string[] = [];
  let longName: string | null = null;
  let paxPath: string | null = null;
  for (;;) {
    const header = await reader.read(BLOCK);
    if (header === null) {
      // An archive should end with two zero blocks, but plain EOF at a block boundary is
      // tolerated (GNU tar accepts it too). EOF inside a header is not.
      if (reader.leftover() > 0) throw truncated(label, 'inside a header');
      break;
    }
    if (isZeroBlock(header)) break;
    verifyChecksum(header, label);
    const size = parseNumber(header.subarray(124, 136), label);
    const typeflag = String.fromCharCode(header[156]);
    const padded = Math.ceil(size / BLOCK) * BLOCK;

    if (typeflag === 'L' || typeflag === 'x' || typeflag === 'g') {
      // Metadata for the next member (GNU long name, pax extended header) or global pax data.
      if (size > 1 << 20) throw new Error(`${label}: a tar metadata block of ${size} bytes is implausible; the archive is corrupt`);
      const body = await reader.read(padded);
      if (body === null) throw truncated(label, 'inside a metadata block');
      const data = body.subarray(0, size);
      if (typeflag === 'L') longName = cString(data);
      else if (typeflag === 'x') paxPath = paxRecord(data, 'path', label) ?? paxPath;
      continue;
    }

    const entry: TarEntry = {
      path: paxPath ?? longName ?? ustarName(header),
      type: entryType(typeflag),
      size,
    };
    longName = null;
    paxPath = null;

    const rel = entry.type === 'file' ? pick(entry) : null;
    if (rel === null) {
      await reader.skip(padded, () => truncated(label, `inside member ${entry.path}`));
      continue;
    }
    const target = safeJoin(destDir, rel, label, entry.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = `${target}.extracting`;
    const fd = fs.openSync(tmp, 'w');
    try {
      await reader.consume(size, (chunk) => { fs.writeSync(fd, chunk); }, () => truncated(label, `inside member ${entry.path}`));
      await reader.skip(padded - size, () => truncated(label, `after member ${entry.path}`));
      fs.closeSync(fd);
    } catch (e) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    fs.renameSync(tmp, target);
    written.push(target);
  }
  return written;
}

/** Joins a member's chosen output path onto `destDir`, refusing anything that escapes it. */
export function safeJoin(destDir: string, rel: string, label: string, member: string): string {
  const parts = rel.split(/[\\/]+/);
  if (path.isAbsolute(rel) || /^[a-zA-Z]:/.test(rel) || rel.includes('\0') || parts.includes('..') || rel === '') {
    throw new Error(`${label}: refusing to extract member "${member}" to "${rel}": the path is absolute or leaves the target directory`);
  }
  const root = path.resolve(destDir);
  const target = path.resolve(root, rel);
  if (!target.startsWith(root + path.sep)) {
    throw new Error(`${label}: refusing to extract member "${member}": "${target}" is outside ${root}`);
  }
  return target;
}

/** A member path with leading "./" and trailing "/" removed, for comparisons. */
export function normalizeMemberPath(p: string): string {
  return p.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}

function entryType(flag: string): TarEntryType {
  switch (flag) {
    case '0':
    case '\0':
    case '7': // contiguous file: a regular file for our purposes
      return 'file';
    case '5':
      return 'directory';
    case '2':
      return 'symlink';
    case '1':
      return 'hardlink';
    default:
      return 'other';
  }
}

function ustarName(h: Buffer): string {
  const name = cString(h.subarray(0, 100));
  const isUstar = h.subarray(257, 262).toString('latin1') === 'ustar';
  const prefix = isUstar ? cString(h.subarray(345, 500)) : '';
  return prefix ? `${prefix}/${name}` : name;
}

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return Buffer.from(end < 0 ? b : b.subarray(0, end)).toString('utf8');
}

/** Octal ASCII, or GNU base-256 (high bit of the first byte set) for large sizes. */
function parseNumber(field: Buffer, label: string): number {
  if (field[0] & 0x80) {
    let v = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) v = v * 256 + field[i];
    return v;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (!/^[0-7]*$/.test(text)) throw new Error(`${label}: corrupt tar header (size field "${text}")`);
  return text === '' ? 0 : parseInt(text, 8);
}

function verifyChecksum(h: Buffer, label: string): void {
  const stored = parseNumber(h.subarray(148, 156), label);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  if (sum !== stored) {
    throw new Error(`${label}: corrupt tar header (checksum ${stored}, computed ${sum}); the archive is damaged: delete it and download again`);
  }
}

function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Finds `key` in pax records of the form "<len> key=value\n". */
function paxRecord(data: Buffer, key: string, label: string): string | null {
  let pos = 0;
  let found: string | null = null;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const len = parseInt(data.subarray(pos, space).toString('latin1'), 10);
    if (space < 0 || !Number.isFinite(len) || len <= 0 || pos + len > data.length) {
      throw new Error(`${label}: corrupt pax header`);
    }
    const record = data.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === key) found = record.slice(eq + 1);
    pos += len;
  }
  return found;
}

function truncated(label: string, where: string): Error {
  return new Error(`${label}: the archive ends early (${where}): it is truncated; delete it and download again`);
}

/** Pulls exact byte counts out of an async stream of chunks of any size. */
class ChunkReader {
  private readonly it: AsyncIterator<Buffer>;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  leftover(): number {
    return this.buffered;
  }

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else if (r.value.length > 0) {
        this.chunks.push(r.value);
        this.buffered += r.value.length;
      }
    }
  }

  /** Exactly `n` bytes, or null at end of stream (leftover() then tells if bytes remained). */
  async read(n: number): Promise<Buffer | null> {
    await this.fill(n);
    if (this.buffered < n) return null;
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0];
      const take = Math.min(c.length, n - off);
      c.copy(out, off, 0, take);
      off += take;
      this.drop(take);
    }
    return out;
  }

  /** Passes the next `n` bytes to `sink` chunk by chunk, without buffering them all. */
  async consume(n: number, sink: (chunk: Buffer) => void, onEnd: () => Error): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.buffered === 0) {
        await this.fill(1);
        if (this.buffered === 0) throw onEnd();
      }
      const c = this.chunks[0];
      const take = Math.min(c.length, left);
      sink(c.subarray(0, take));
      this.drop(take);
      left -= take;
    }
  }

  async skip(n: number, onEnd: () => Error): Promise<void> {
    await this.consume(n, () => undefined, onEnd);
  }

  private drop(k: number): void {
    const c = this.chunks[0];
    if (k === c.length) this.chunks.shift();
    else this.chunks[0] = c.subarray(k);
    this.buffered -= k;
  }
}
