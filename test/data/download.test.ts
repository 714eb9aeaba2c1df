/**
 * The downloader against a real HTTP server on 127.0.0.1 serving generated files in the
 * official layout: verified result, checksum mismatch, interrupted transfer resumed by Range.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';
import { clearDatasetCache, downloadDataset, loadDataset } from '../../src/data';
import { fetchToPart, InterruptedDownload } from '../../src/data/fetch';
import { cifarArchive, rmrf, startServer, TestServer, tmpDir, writeIdxSet } from './helpers';

const md5 = (b: Buffer) => crypto.createHash('md5').update(b).digest('hex');
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

let work: string;
let server: TestServer;
let idxFiles: Record<string, Buffer>;
let archive: Buffer;

beforeAll(async () => {
  work = tmpDir();
  idxFiles = writeIdxSet(path.join(work, 'served'), { train: 40, test: 20 });
  archive = cifarArchive(6);
  const files: Record<string, Buffer> = { '/cifar/cifar-10-binary.tar.gz': archive };
  for (const [name, data] of Object.entries(idxFiles)) files[`/mirror/fashion-mnist/${name}`] = data;
  server = await startServer(files);
});
afterAll(async () => {
  await server.close();
  rmrf(work);
});
beforeEach(() => {
  server.requests.length = 0;
  clearDatasetCache();
});

const idxChecksums = () => Object.fromEntries(Object.entries(idxFiles).map(([n, d]) => [n, md5(d)]));
const common = { progress: false, retryDelayMs: 10, idleTimeoutMs: 5000 };

test('IDX files: downloaded from the mirror, MD5-verified, SHA-256 recorded, then loadable', async () => {
  const dir = path.join(work, 'fm1');
  const env = { ILR_DATA_MIRROR: `${server.baseUrl}/mirror/` };
  const r = await downloadDataset('fashion-mnist', { ...common, dir, env, checksums: idxChecksums() });
  expect(r.files.map((f) => [f.name, f.reused])).toEqual(Object.keys(idxFiles).sort(byPublishedOrder).map((n) => [n, false]));
  for (const f of r.files) expect(fs.readFileSync(f.path).equals(idxFiles[f.name])).toBe(true);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'checksums.json'), 'utf8'));
  for (const [name, data] of Object.entries(idxFiles)) {
    expect(manifest[name].sha256).toBe(sha256(data));
    expect(manifest[name].md5).toBe(md5(data));
  }
  expect(server.requests.map((q) => q.url)).toEqual(r.files.map((f) => `/mirror/fashion-mnist/${f.name}`));

  // A second call fetches nothing: the files are verified in place.
  const again = await downloadDataset('fashion-mnist', { ...common, dir, env, checksums: idxChecksums() });
  expect(again.files.every((f) => f.reused)).toBe(true);
  expect(server.requests.length).toBe(4);

  const ds = await loadDataset('fashion-mnist', 'train', { dataDir: dir, env });
  expect(ds.count).toBe(40);
});

test('loadDataset downloads into the cache when the files are nowhere else', async () => {
  const env = { ILR_CACHE_DIR: path.join(work, 'cache1'), ILR_DATA_MIRROR: `${server.baseUrl}/mirror` };
  // mnist has no system location, so the cache (then the download) is next.
  const s2 = await startServer(Object.fromEntries(Object.entries(idxFiles).map(([n, d]) => [`/mnist/${n}`, d])));
  try {
    const ds = await loadDataset('mnist', 'test', { ...common, env: { ...env, ILR_DATA_MIRROR: s2.baseUrl }, checksums: idxChecksums() });
    expect(ds.count).toBe(20);
    expect(ds.source).toBe(`${path.join(work, 'cache1', 'mnist')} (download)`);
    expect(s2.requests.length).toBe(4);
  } finally {
    await s2.close();
  }
});

test('checksum mismatch: refused, and nothing is left behind', async () => {
  const dir = path.join(work, 'cifar-bad');
  await expect(
    downloadDataset('cifar10', { ...common, dir, baseUrl: `${server.baseUrl}/cifar/`, checksums: { 'cifar-10-binary.tar.gz': '0'.repeat(32) } }),
  ).rejects.toThrow(/checksum mismatch for cifar-10-binary.tar.gz from http:\/\/127.0.0.1:\d+\/cifar\/cifar-10-binary.tar.gz: MD5 [0-9a-f]{32}, expected 0{32}.*deleted/);
  expect(fs.existsSync(dir)).toBe(false);
  expect(server.requests.length).toBe(1);

  // The published MD5 is what applies without an injected table: the generated archive fails it.
  await expect(downloadDataset('cifar10', { ...common, dir, baseUrl: `${server.baseUrl}/cifar/` })).rejects.toThrow(/expected c32a1d4ab5d03f1284b67883e8d87530/);
  expect(fs.existsSync(dir)).toBe(false);
});

test('CIFAR-10: archive verified, only the expected members extracted, archive removed', async () => {
  const dir = path.join(work, 'cifar-ok');
  const r = await downloadDataset('cifar10', { ...common, dir, baseUrl: `${server.baseUrl}/cifar`, checksums: { 'cifar-10-binary.tar.gz': md5(archive) } });
  expect(fs.readdirSync(dir).sort()).toEqual([
    'batches.meta.txt', 'checksums.json', 'data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin',
  ]);
  expect(r.files[0]).toMatchObject({ name: 'cifar-10-binary.tar.gz', md5: md5(archive), sha256: sha256(archive) });
  const train = await loadDataset('cifar10', 'train', { dataDir: dir, download: false });
  expect(train.count).toBe(30);
  // Already extracted: a second call fetches nothing.
  const again = await downloadDataset('cifar10', { ...common, dir, baseUrl: `${server.baseUrl}/cifar` });
  expect(again.files.every((f) => f.reused)).toBe(true);
  expect(server.requests.length).toBe(1);
});

test('CIFAR-10: hostile members (paths outside, links in place of batches) are never written', async () => {
  const dir = path.join(work, 'hostile', 'cifar');
  const evil = Buffer.from('evil');
  const hostile = cifarArchive(2, [
    { path: '../../evil.bin', data: evil },
    { path: 'cifar-10-batches-bin/../../evil2.bin', data: evil },
    { path: '/tmp/evil3.bin', data: evil },
    { path: 'cifar-10-batches-bin/test_batch.bin', type: '2', linkname: '/etc/passwd' },
  ]);
  const s = await startServer({ '/c/cifar-10-binary.tar.gz': hostile });
  try {
    await downloadDataset('cifar10', { ...common, dir, baseUrl: `${s.baseUrl}/c/`, checksums: { 'cifar-10-binary.tar.gz': md5(hostile) } });
  } finally {
    await s.close();
  }
  expect(fs.readdirSync(path.join(work, 'hostile'))).toEqual(['cifar']);
  expect(fs.existsSync('/tmp/evil3.bin')).toBe(false);
  // The regular test_batch.bin came first; the later symlink member did not replace it.
  expect(fs.lstatSync(path.join(dir, 'test_batch.bin')).isFile()).toBe(true);
  expect((await loadDataset('cifar10', 'test', { dataDir: dir, download: false })).count).toBe(2);
});

test('interrupted transfer: the partial file is kept and the next call resumes with Range', async () => {
  const dir = path.join(work, 'cifar-resume');
  const url = '/cifar/cifar-10-binary.tar.gz';
  const cut = Math.floor(archive.length / 3);
  server.dropOnce.set(url, cut);
  const opts = { ...common, dir, baseUrl: `${server.baseUrl}/cifar/`, checksums: { 'cifar-10-binary.tar.gz': md5(archive) } };
  await expect(downloadDataset('cifar10', { ...opts, retries: 0 })).rejects.toThrow(/connection lost after \d+ bytes.*partial file .*cifar-10-binary.tar.gz.part is kept/s);
  const part = path.join(dir, 'cifar-10-binary.tar.gz.part');
  const have = fs.statSync(part).size;
  expect(have).toBe(cut);

  await downloadDataset('cifar10', opts);
  expect(server.requests).toEqual([
    { url, range: undefined, status: 200 },
    { url, range: `bytes=${cut}-`, status: 206 },
  ]);
  expect(fs.existsSync(part)).toBe(false);
  expect((await loadDataset('cifar10', 'test', { dataDir: dir, download: false })).count).toBe(6);
});

test('interrupted transfer is resumed within one call when retries are allowed', async () => {
  const dir = path.join(work, 'fm-retry');
  const name = 'train-images-idx3-ubyte.gz';
  server.dropOnce.set(`/mirror/fashion-mnist/${name}`, 100);
  const r = await downloadDataset('fashion-mnist', { ...common, dir, retries: 2, baseUrl: `${server.baseUrl}/mirror/fashion-mnist`, checksums: idxChecksums() });
  expect(fs.readFileSync(r.files[0].path).equals(idxFiles[name])).toBe(true);
  expect(server.requests.filter((q) => q.url.endsWith(name)).map((q) => q.range)).toEqual([undefined, 'bytes=100-']);
  expect(server.requests.length).toBe(5);
});

test('no network: the error says which files to place where', async () => {
  // A port nobody listens on: bind one, note it, close it.
  const s = await startServer({});
  const dead = s.baseUrl;
  await s.close();
  const env = { ILR_CACHE_DIR: path.join(work, 'cache-nonet') };
  const err = await loadDataset('mnist', 'train', { ...common, retries: 1, env, baseUrl: dead }).catch((e: Error) => e);
  expect(err).toBeInstanceOf(Error);
  const msg = (err as Error).message;
  expect(msg).toMatch(/could not download mnist: http:\/\/127.0.0.1:\d+\/train-images-idx3-ubyte.gz: connect ECONNREFUSED/);
  expect(msg).toContain(`Place these files (gzipped or not) in ${path.join(work, 'cache-nonet', 'mnist')}`);
  expect(msg).toContain('train-images-idx3-ubyte.gz  from');
  expect(msg).toContain('(MD5 f68b3c2dcbeaaa9fbdd348bbdeb94873)');
  expect(msg).toContain('t10k-labels-idx1-ubyte.gz');
  expect(fs.existsSync(path.join(work, 'cache-nonet', 'mnist'))).toBe(false);
});

test('HTTP 404 is reported without retrying', async () => {
  const dir = path.join(work, 'fm-404');
  await expect(downloadDataset('mnist', { ...common, dir, retries: 3, baseUrl: `${server.baseUrl}/nothing-here/` })).rejects.toThrow(/HTTP 404/);
  expect(server.requests.length).toBe(1);
});

test('a redirect is followed; a server that stops sending is given up on after the idle timeout, the partial file kept', async () => {
  const stalled = http.createServer((req, res) => {
    if (req.url === '/moved') {
      res.writeHead(302, { Location: `${server.baseUrl}/cifar/cifar-10-binary.tar.gz` }).end();
      return;
    }
    res.writeHead(200, { 'Content-Length': 1000 });
    res.write(Buffer.alloc(10, 1)); // and then nothing
  });
  await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`;
  const part = path.join(work, 'fetch.part');
  try {
    await fetchToPart(`${base}/moved`, part, { label: 'moved', progress: false });
    expect(fs.readFileSync(part).equals(archive)).toBe(true);

    fs.rmSync(part);
    const err = await fetchToPart(`${base}/stall`, part, { label: 'stall', progress: false, idleTimeoutMs: 300 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(InterruptedDownload);
    expect((err as Error).message).toMatch(/stall: connection lost after 10 bytes \(no data for 0.3 s\); the partial file .*fetch.part is kept/);
    expect(fs.statSync(part).size).toBe(10);
  } finally {
    stalled.closeAllConnections();
    await new Promise<void>((resolve) => stalled.close(() => resolve()));
  }
});

function byPublishedOrder(a: string, b: string): number {
  const order = ['train-images', 'train-labels', 't10k-images', 't10k-labels'];
  return order.findIndex((o) => a.startsWith(o)) - order.findIndex((o) => b.startsWith(o));
}
