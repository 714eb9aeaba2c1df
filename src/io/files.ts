/**
 * Files a run writes, written so that a crash, a kill or a full disk never leaves a partial file
 * under the final name: the bytes go to `<file>.<pid>.tmp`, every byte is accounted for (a write
 * may take fewer bytes than offered), the file is fsynced and read back before it is renamed over
 * the old one, and the directory entry is fsynced after. On any failure the temp file is removed
 * and the old file, if there was one, is unchanged.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The temp file a write by this process goes to first; `tempFileWriter` reads the PID back out of it. */
export const tempName = (file: string): string => `${file}.${process.pid}.tmp`;

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
};

/** A file that could not be written (disk full, permissions, …): the message names it and the cause. */
export class WriteError extends Error {}

function cannotWrite(file: string, e: unknown, left: string): WriteError {
  const err = e as NodeJS.ErrnoException;
  const why = err.code && REASONS[err.code] ? `${REASONS[err.code]} (${err.code})` : err.message;
  return new WriteError(`cannot write ${file}: ${why}. ${left}; free space or fix the cause, then try again`);
}

function writeAll(fd: number, bytes: Buffer): void {
  for (let done = 0; done < bytes.length; ) {
    const n = fs.writeSync(fd, bytes, done, bytes.length - done);
    if (n <= 0) throw new Error(`the device took ${done} of ${bytes.length} bytes and then no more`);
    done += n;
  }
}

/** The bytes on disk must be the bytes meant: a short or damaged file is never renamed into place. */
function verify(tmp: string, bytes: Buffer): void {
  const back = fs.readFileSync(tmp);
  if (!back.equals(bytes)) throw new Error(`read back ${back.length} bytes that differ from the ${bytes.length} written`);
}

/** Makes a rename durable: without this a power cut can undo it. */
function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeFileAtomic(file: string, data: Buffer | Uint8Array | string): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const dir = path.dirname(file);
  const tmp = tempName(file);
  try {
    fs.mkdirSync(dir, { recursive: true });
    const fd = fs.openSync(tmp, 'w');
    try {
      writeAll(fd, bytes);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    verify(tmp, bytes);
    fs.renameSync(tmp, file);
    syncDirectory(dir);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw cannotWrite(file, e, 'Nothing was written under that name (an older version, if any, is unchanged)');
  }
}

/**
 * Appends a line to a log. Not atomic: a failure can leave part of the line, which readers of
 * the log must drop (a resumed run rewrites its log without it).
 */
export function appendLine(file: string, line: string): void {
  try {
    fs.appendFileSync(file, Buffer.from(line + '\n', 'utf8'));
  } catch (e) {
    throw cannotWrite(file, e, 'The last line may be cut short');
  }
}

export const writeJsonAtomic = (file: string, value: unknown): void => writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');

/** Reads a JSON file; a file that does not parse is named in the error, with `fix` saying what to do. */
export function readJsonFile(file: string, fix: string): unknown {
  const text = fs.readFileSync(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message}; ${text.length} bytes); ${fix}`);
  }
}

/** The process that writes a temp file, from its name; undefined for other files. */
export function tempFileWriter(name: string): number | undefined {
  const m = /\.(\d+)\.tmp$/.exec(name);
  return m ? Number(m[1]) : undefined;
}
