/**
 * Resumable HTTP(S) download of one file into `<target>.part`, using node's http/https only.
 * A `.part` file left by an interrupted transfer is continued with a Range request; a server
 * that ignores Range (200 instead of 206) makes us start over. Checksums are the caller's job.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
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

const MAX_REDIRECTS = 5;

/**
 * Downloads `url` into `partPath`, resuming from the bytes already there. Resolves when the
 * server has sent everything it announced; throws InterruptedDownload if the connection breaks.
 */
export async function fetchToPart(url: string, partPath: string, opts: FetchOptions): Promise<void> {
  const have = fs.existsSync(partPath) ? fs.statSync(partPath).size : 0;
  const res = await get(url, have > 0 ? { Range: `bytes=${have}-` } : {}, opts.idleTimeoutMs ?? 60_000);

  if (res.statusCode === 416 && have > 0) {
    // "Range not satisfiable": we already have at least the whole file. Checksum decides.
    res.resume();
    return;
  }
  let start = 0;
  if (res.statusCode === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
    start = m ? Number(m[1]) : -1;
    if (start !== have) {
      // A range we did not ask for: safest is to start again without Range.
      res.destroy();
      fs.rmSync(partPath, { force: true });
      return fetchToPart(url, partPath, opts);
    }
  } else if (res.statusCode !== 200) {
    res.resume();
    throw new HttpStatusError(`${url}: HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim(), res.statusCode ?? 0);
  }

  const length = Number(res.headers['content-length'] ?? NaN);
  const total = Number.isFinite(length) ? start + length : opts.expectedSize;
  const fd = fs.openSync(partPath, start > 0 ? 'a' : 'w');
  const bar = new ProgressBar({ total, label: opts.label, unit: 'bytes', quiet: opts.progress === false });
  let received = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      fs.writeSync(fd, chunk);
      received += chunk.length;
      bar.update(start + received, start > 0 ? `resumed at ${start}` : undefined);
    }
  } catch (e) {
    throw new InterruptedDownload(
      `${url}: connection lost after ${start + received} bytes (${(e as Error).message}); the partial file ${partPath} is kept and the next attempt resumes from it`,
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
}

/** GET with redirects followed; resolves with the final response (body not yet read). */
function get(url: string, headers: Record<string, string>, idleTimeoutMs: number, redirects = 0): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { headers: { 'User-Agent': 'intrinsic-lr', ...headers } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects >= MAX_REDIRECTS) {
          reject(new HttpStatusError(`${url}: more than ${MAX_REDIRECTS} redirects`, status));
          return;
        }
        const next = new URL(res.headers.location, url).toString();
        get(next, headers, idleTimeoutMs, redirects + 1).then(resolve, reject);
        return;
      }
      resolve(res);
    });
    req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`no data for ${idleTimeoutMs / 1000} s`)));
    req.on('error', reject);
  });
}
