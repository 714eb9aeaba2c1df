/**
 * Extracts a few known regular files from a tar archive (the CIFAR-10 tar.gz), reading it with
 * the `tar` package's parser (pax and GNU long names applied). The writing is ours: only the regular files the caller picks are written, never
 * directories, links, devices or anything else from the archive, never outside the target
 * directory, and each through a temporary name renamed when complete, so an interrupted
 * extraction never leaves a partial file under its final name.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Parser, ReadEntry } from 'tar';

const BLOCK = 512;

/** Entry types that are plain file data ('ContiguousFile' is one for our purposes). */
const REGULAR = new Set(['File', 'OldFile', 'ContiguousFile']);

/**
 * Decides where a regular file of the archive goes: a path relative to the target directory,
 * or null to skip it. It gets the member's path without leading "./" or trailing "/".
 */
export type TarPick = (member: string) => string | null;

/** What the parser attaches to the errors it emits. */
type TarError = Error & { tarCode?: string; entry?: ReadEntry };

/**
 * Reads a tar stream (already decompressed) and writes the picked regular files under `destDir`.
 * Returns the paths written. `label` names the archive in error messages.
 */
export async function extractTar(source: AsyncIterable<Buffer>, destDir: string, pick: TarPick, label: string): Promise<string[]> {
  const written: string[] = [];
  const tarErrors: TarError[] = [];
  let ownError: Error | undefined; // a refused path, a failed write
  let current: MemberFile | undefined;
  const failed = () => ownError !== undefined || tarErrors.length > 0;
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry) => {
      // The parser moves on once the entry is consumed: what is not written is drained.
      if (failed() || !REGULAR.has(entry.type)) return void entry.resume();
      try {
        const rel = pick(normalizeMemberPath(entry.path));
        if (rel === null) return void entry.resume();
        const target = safeJoin(destDir, rel, label, entry.path);
        const file = new MemberFile(target, entry.size);
        current = file;
        entry.on('data', (chunk: Buffer) => guard(() => file.write(chunk)));
        entry.on('end', () => guard(() => file.finish() && written.push(target)));
      } catch (e) {
        ownError = e as Error;
      }
    },
  });
  parser.on('error', (e: TarError) => tarErrors.push(e));
  const guard = (action: () => unknown) => {
    try {
      action();
    } catch (e) {
      ownError ??= e as Error;
    }
  };

  let bytes = 0;
  let readToEnd = false;
  try {
    for await (const chunk of source) {
      bytes += chunk.length;
      parser.write(chunk);
      if (failed()) break;
    }
    if (!failed()) {
      parser.end();
      readToEnd = true;
    }
  } finally {
    current?.abandon();
  }
  const failure = ownError ?? describeFailure(tarErrors, readToEnd && bytes % BLOCK !== 0, label);
  if (failure) throw failure;
  return written;
}

/**
 * One member being written: to `<target>.extracting`, renamed to `target` once all its bytes
 * are there. A member the archive cuts short, or a failed write, leaves no file behind.
 */
class MemberFile {
  private fd: number | undefined;
  private readonly tmp: string;
  private received = 0;

  constructor(private readonly target: string, private readonly size: number) {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    this.tmp = `${target}.extracting`;
    this.fd = fs.openSync(this.tmp, 'w');
  }

  write(chunk: Buffer): void {
    if (this.fd === undefined) return;
    try {
      fs.writeSync(this.fd, chunk);
    } catch (e) {
      this.abandon();
      throw new Error(`${this.tmp}: ${(e as Error).message} (while extracting ${path.basename(this.target)})`);
    }
    this.received += chunk.length;
  }

  /** Renames the file into place if it is complete (true), removes it otherwise. */
  finish(): boolean {
    if (this.fd === undefined) return false;
    if (this.received !== this.size) {
      this.abandon();
      return false;
    }
    fs.closeSync(this.fd);
    this.fd = undefined;
    fs.renameSync(this.tmp, this.target);
    return true;
  }

  /** Closes and removes the temporary file, if it is still open. */
  abandon(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
    fs.rmSync(this.tmp, { force: true });
  }
}

/** Our message for the first thing the parser found wrong, with what to do about it. */
function describeFailure(errors: readonly TarError[], endsInsideBlock: boolean, label: string): Error | undefined {
  const cut = errors.find((e) => e.tarCode === 'TAR_BAD_ARCHIVE' && e.entry);
  if (cut) return truncated(label, `inside member ${cut.entry!.path}`);
  // The parser drops a partial block at the end without a word (or, alone, calls it no archive).
  if (endsInsideBlock) return truncated(label, 'inside a header');
  const [first] = errors;
  if (!first) return undefined;
  const what = first.message.replace(/^TAR_[A-Z_]+: /, '');
  return new Error(`${label}: corrupt tar archive (${what}); the archive is damaged: delete it and download again`);
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
function normalizeMemberPath(p: string): string {
  return p.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}

function truncated(label: string, where: string): Error {
  return new Error(`${label}: the archive ends early (${where}): it is truncated; delete it and download again`);
}
