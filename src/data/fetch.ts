/**
 * Resumable HTTP(S) download of one file into `<target>.part`, with Node's global fetch (which
 * follows redirects). A `.part` file left by an interrupted transfer is continued with a Range
 * request; a server that ignores Range (200 instead of 206) makes us start over. Checksums are
 * the caller's job.
 */
import * as fs from 'fs';
import { ProgressBar } from '../util/progress';

export interface FetchOptions {
  /** Label for the progress bar, e.g. `cifar10: cifar-10-binary.tar.gz`. */
  label: string;
  /** Expected size, shown while the server has not said (Content-Length wins). */
  expectedSize?: number;
  /** Show a progress bar on stderr (default true). */
  progress?: boolean;
  /** Abort when no data arrives for this long (default 60 s). */
  idleTimeoutMs?: number;
}

/** A transfer that stopped part-way; the `.part` file is kept so the next attempt resumes. */
export class InterruptedDownload extends Error {
  constructor(message: string, readonly bytesSoFar: number) {
    super(message);
    this.name = 'InterruptedDownload';
  }
}

/** The server answered, but not with the file (404, 500, …): retrying the same URL will not help. */
export class HttpStatusError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = 'HttpStatusError';
  }
}

/**
 * Downloads `url` into `partPath`, resuming from the bytes already there. Resolves when the
 * server has sent everything it announced; throws InterruptedDownload if the connection breaks.
 */
export async function fetchToPart(url: string, partPath: string, opts: FetchOptions): Promise<void> {
  const have = fs.existsSync(partPath) ? fs.statSync(partPath).size : 0;
  const idle = new IdleTimer(opts.idleTimeoutMs ?? 60_000);
  try {
    let res: Response;
    try {
      res = await fetch(url, {
        // identity: the file's bytes as stored (a .gz served with Content-Encoding: gzip must not be unpacked on the way).
        headers: { 'User-Agent': 'intrinsic-lr', 'Accept-Encoding': 'identity', ...(have > 0 ? { Range: `bytes=${have}-` } : {}) },
        signal: idle.signal,
      });
    } catch (e) {
      throw rootCause(e, idle);
    }

    if (res.status === 416 && have > 0) {
      // "Range not satisfiable": we already have at least the whole file. Checksum decides.
      await res.body?.cancel();
      return;
    }
    let start = 0;
    if (res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      start = m ? Number(m[1]) : -1;
      if (start !== have) {
        // A range we did not ask for: safest is to start again without Range.
        await res.body?.cancel();
        fs.rmSync(partPath, { force: true });
        idle.stop();
        return fetchToPart(url, partPath, opts);
      }
    } else if (res.status !== 200) {
      await res.body?.cancel();
      throw new HttpStatusError(`${url}: HTTP ${res.status} ${res.statusText}`.trim(), res.status);
    }

    const length = Number(res.headers.get('content-length') ?? NaN);
    const total = Number.isFinite(length) ? start + length : opts.expectedSize;
    const fd = fs.openSync(partPath, start > 0 ? 'a' : 'w');
    const bar = new ProgressBar({ total, label: opts.label, unit: 'bytes', quiet: opts.progress === false });
    let received = 0;
    try {
      for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) {
        idle.restart();
        fs.writeSync(fd, chunk);
        received += chunk.length;
        bar.update(start + received, start > 0 ? `resumed at ${start}` : undefined);
      }
    } catch (e) {
      throw new InterruptedDownload(
        `${url}: connection lost after ${start + received} bytes (${rootCause(e, idle).message}); the partial file ${partPath} is kept and the next attempt resumes from it`,
        start + received,
      );
    } finally {
      fs.closeSync(fd);
      bar.done();
    }
    if (Number.isFinite(length) && received < length) {
      throw new InterruptedDownload(
        `${url}: transfer ended after ${start + received} of ${start + length} bytes; the partial file ${partPath} is kept and the next attempt resumes from it`,
        start + received,
      );
    }
  } finally {
    idle.stop();
  }
}

/** Aborts the request when no data has arrived for `ms` (restarted by every chunk). */
class IdleTimer {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout;

  constructor(private readonly ms: number) {
    this.timer = this.arm();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get fired(): boolean {
    return this.controller.signal.aborted;
  }

  restart(): void {
    clearTimeout(this.timer);
    this.timer = this.arm();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  describe(): string {
    return `no data for ${this.ms / 1000} s`;
  }

  private arm(): NodeJS.Timeout {
    return setTimeout(() => this.controller.abort(), this.ms);
  }
}

/**
 * What actually went wrong: fetch reports "fetch failed" or "terminated" and keeps the socket's
 * error (ECONNREFUSED, ECONNRESET, …) as the cause; an abort by the idle timer says so.
 */
function rootCause(e: unknown, idle: IdleTimer): Error {
  if (idle.fired) return new Error(idle.describe());
  // Duck-typed: the cause may come from another realm (jest's), where instanceof Error fails.
  const cause = (e as { cause?: { message?: unknown } }).cause;
  return typeof cause?.message === 'string' && cause.message !== '' ? (cause as Error) : (e as Error);
}
