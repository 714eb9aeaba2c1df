/** Generators of small data files in the real formats, a tar writer and a loopback HTTP server. */
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { AddressInfo } from 'net';
import { encodeIdx } from '../../src/data/idx';
import { encodeCifarBatch } from '../../src/data/cifar';

export function tmpDir(prefix = 'ilr-data-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function rmrf(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Images whose pixels encode (image, position), labels i % numClasses. */
export function fakeImages(count: number, size: number, numClasses = 10, salt = 0): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) for (let j = 0; j < size; j++) images[i * size + j] = (i * 7 + j * 13 + salt) & 0xff;
  const labels = new Uint8Array(count).map((_, i) => i % numClasses);
  return { images, labels };
}

/** Writes the four MNIST-layout files (gzipped unless gzip is false) into dir. */
export function writeIdxSet(dir: string, opts: { train?: number; test?: number; gzip?: boolean } = {}): Record<string, Buffer> {
  fs.mkdirSync(dir, { recursive: true });
  const out: Record<string, Buffer> = {};
  const sets: [string, number][] = [['train', opts.train ?? 50], ['t10k', opts.test ?? 20]];
  for (const [prefix, count] of sets) {
    const { images, labels } = fakeImages(count, 28 * 28, 10, prefix === 'train' ? 0 : 1);
    const files: [string, Buffer][] = [
      [`${prefix}-images-idx3-ubyte`, encodeIdx([count, 28, 28], images)],
      [`${prefix}-labels-idx1-ubyte`, encodeIdx([count], labels)],
    ];
    for (const [name, raw] of files) {
      const data = opts.gzip === false ? raw : zlib.gzipSync(raw);
      const fileName = opts.gzip === false ? name : `${name}.gz`;
      fs.writeFileSync(path.join(dir, fileName), data);
      out[fileName] = data;
    }
  }
  return out;
}

export const CIFAR_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];

/** CIFAR-10 batch files with `perBatch` records each, as name → bytes. */
export function cifarBatches(perBatch = 12): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  CIFAR_FILES.forEach((name, k) => {
    const { images, labels } = fakeImages(perBatch, 3072, 10, k);
    out[name] = encodeCifarBatch(images, labels);
  });
  return out;
}

export function writeCifarSet(dir: string, perBatch = 12): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, data] of Object.entries(cifarBatches(perBatch))) fs.writeFileSync(path.join(dir, name), data);
}

export interface TarMember {
  path: string;
  data?: Buffer;
  /** '0' file (default), '5' directory, '2' symlink, '1' hard link, 'x' pax header, 'L' GNU long name. */
  type?: string;
  linkname?: string;
}

/** A ustar archive of the given members, ending with two zero blocks. */
export function makeTar(members: TarMember[], opts: { end?: boolean } = {}): Buffer {
  const blocks: Buffer[] = [];
  for (const m of members) {
    const data = m.data ?? Buffer.alloc(0);
    const h = Buffer.alloc(512);
    h.write(m.path.slice(0, 100), 0, 'utf8');
    h.write('0000644\0', 100);
    h.write('0001750\0', 108);
    h.write('0001750\0', 116);
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
    h.write('14000000000\0', 136);
    h.write('        ', 148);
    h.write(m.type ?? '0', 156);
    if (m.linkname) h.write(m.linkname, 157);
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (opts.end !== false) blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** A pax extended header record "<len> key=value\n" (the length counts itself). */
export function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len++;
  return Buffer.from(`${len}${body}`);
}

/** The CIFAR-10 archive layout: cifar-10-batches-bin/…, gzipped. */
export function cifarArchive(perBatch = 12, extra: TarMember[] = []): Buffer {
  const batches = cifarBatches(perBatch);
  const members: TarMember[] = [
    { path: 'cifar-10-batches-bin/', type: '5' },
    ...Object.entries(batches).map(([name, data]) => ({ path: `cifar-10-batches-bin/${name}`, data })),
    { path: 'cifar-10-batches-bin/batches.meta.txt', data: Buffer.from('airplane\nautomobile\n') },
    { path: 'cifar-10-batches-bin/readme.html', data: Buffer.from('<html></html>') },
    ...extra,
  ];
  return zlib.gzipSync(makeTar(members));
}

export interface RequestLog {
  url: string;
  range?: string;
  status: number;
}

export interface TestServer {
  baseUrl: string;
  requests: RequestLog[];
  /** Paths whose next full (non-Range) response is cut off after `bytes` bytes, once. */
  dropOnce: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Serves `files` (URL path → bytes) on 127.0.0.1 with a random port; honours `Range: bytes=N-`
 * like S3 and Apache do, and can drop a connection mid-file to simulate an interrupted transfer.
 */
export async function startServer(files: Record<string, Buffer>): Promise<TestServer> {
  const requests: RequestLog[] = [];
  const dropOnce = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const range = req.headers.range;
    const data = files[url];
    const log: RequestLog = { url, range, status: 0 };
    requests.push(log);
    if (!data) {
      log.status = 404;
      res.writeHead(404).end('not found');
      return;
    }
    let start = 0;
    if (range) {
      const m = /^bytes=(\d+)-$/.exec(range);
      start = m ? Number(m[1]) : 0;
      if (start >= data.length) {
        log.status = 416;
        res.writeHead(416, { 'Content-Range': `bytes */${data.length}` }).end();
        return;
      }
      log.status = 206;
      res.writeHead(206, { 'Content-Length': data.length - start, 'Content-Range': `bytes ${start}-${data.length - 1}/${data.length}` });
    } else {
      log.status = 200;
      res.writeHead(200, { 'Content-Length': data.length });
    }
    const cut = !range ? dropOnce.get(url) : undefined;
    if (cut !== undefined) {
      dropOnce.delete(url);
      // Send part of the body, let it reach the client, then kill the connection.
      res.write(data.subarray(0, cut), () => setTimeout(() => req.socket.destroy(), 50));
      return;
    }
    res.end(data.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    dropOnce,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A quiet stderr for progress bars in tests. */
export const quiet = { write: (): boolean => true };
