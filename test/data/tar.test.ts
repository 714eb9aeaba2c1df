/** Tar extraction: picks regular files, skips everything else, never escapes the target, never leaves a partial file. */
import * as fs from 'fs';
import * as path from 'path';
import { Readable } from 'stream';
import { extractTar, safeJoin } from '../../src/data/tar';
import { makeTar, paxRecord, rmrf, tmpDir } from './helpers';

let dir: string;
beforeEach(() => { dir = tmpDir(); });
afterEach(() => rmrf(dir));

/** Streams `buf` in small uneven chunks, so headers and data straddle chunk boundaries. */
function chunked(buf: Buffer, size = 333): AsyncIterable<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

const everyFile = (member: string) => member;

test('extracts the picked regular files with their content', async () => {
  const big = Buffer.alloc(5000, 7);
  const tar = makeTar([
    { path: 'top/', type: '5' },
    { path: 'top/a.bin', data: big },
    { path: 'top/b.txt', data: Buffer.from('hello') },
    { path: 'top/empty', data: Buffer.alloc(0) },
  ]);
  const seen: string[] = [];
  const written = await extractTar(chunked(tar), dir, (member) => { seen.push(member); return member === 'top/b.txt' ? null : path.basename(member); }, 'x.tar');
  expect(seen).toEqual(['top/a.bin', 'top/b.txt', 'top/empty']);
  expect(written.map((w) => path.basename(w))).toEqual(['a.bin', 'empty']);
  expect(fs.readFileSync(path.join(dir, 'a.bin')).equals(big)).toBe(true);
  expect(fs.readdirSync(dir).sort()).toEqual(['a.bin', 'empty']);
});

test('links, directories and devices are never created, even if a pick would accept them', async () => {
  const tar = makeTar([
    { path: 'evil-link', type: '2', linkname: '/etc/passwd' },
    { path: 'hard', type: '1', linkname: 'x' },
    { path: 'dir/', type: '5' },
    { path: 'fifo', type: '6' },
    { path: 'ok', data: Buffer.from('1') },
  ]);
  const written = await extractTar(chunked(tar), dir, everyFile, 'x.tar');
  expect(written).toEqual([path.join(dir, 'ok')]);
  expect(fs.readdirSync(dir)).toEqual(['ok']);
});

test.each([['../escape'], ['/abs/path'], ['a/../../b'], ['']])('refuses to write to %j', async (rel) => {
  const tar = makeTar([{ path: 'x', data: Buffer.from('1') }]);
  await expect(extractTar(chunked(tar), dir, () => rel, 'x.tar')).rejects.toThrow(/refusing to extract member "x"/);
  expect(fs.readdirSync(dir)).toEqual([]);
  expect(fs.existsSync(path.join(dir, '..', 'escape'))).toBe(false);
});

test('safeJoin keeps paths inside the target', () => {
  expect(safeJoin('/t', 'a/b', 'l', 'm')).toBe(path.resolve('/t/a/b'));
  expect(() => safeJoin('/t', '..\\x', 'l', 'm')).toThrow(/refusing/);
  expect(() => safeJoin('/t', 'C:x', 'l', 'm')).toThrow(/refusing/);
});

test('pax and GNU long names give the member its real path', async () => {
  const long = `${'d'.repeat(120)}/file.bin`;
  const tar = makeTar([
    { path: 'PaxHeader', type: 'x', data: paxRecord('path', 'pax/renamed.bin') },
    { path: 'short', data: Buffer.from('p') },
    { path: '././@LongLink', type: 'L', data: Buffer.from(long + '\0') },
    { path: long.slice(0, 100), data: Buffer.from('g') },
  ]);
  const names: string[] = [];
  await extractTar(chunked(tar), dir, (member) => { names.push(member); return null; }, 'x.tar');
  expect(names).toEqual(['pax/renamed.bin', long]);
});

test('truncated archive: error, and no partial file under the final name', async () => {
  const tar = makeTar([{ path: 'a', data: Buffer.alloc(3000, 1) }]);
  await expect(extractTar(chunked(tar.subarray(0, 2000)), dir, everyFile, 'cut.tar')).rejects.toThrow(/cut.tar: the archive ends early \(inside member a\)/);
  expect(fs.readdirSync(dir)).toEqual([]);
  await expect(extractTar(chunked(tar.subarray(0, 300)), dir, everyFile, 'cut.tar')).rejects.toThrow(/inside a header/);
  await expect(extractTar(chunked(tar.subarray(0, 2000)), dir, () => null, 'cut.tar')).rejects.toThrow(/inside member a/);
  const two = makeTar([{ path: 'a', data: Buffer.from('1') }, { path: 'b', data: Buffer.from('2') }]);
  await expect(extractTar(chunked(two.subarray(0, 1024 + 300)), dir, everyFile, 'cut.tar')).rejects.toThrow(/inside a header/);
});

test('corrupt header checksum is detected', async () => {
  const tar = makeTar([{ path: 'a', data: Buffer.from('x') }]);
  tar[10] ^= 0xff;
  await expect(extractTar(chunked(tar), dir, everyFile, 'bad.tar')).rejects.toThrow(/bad.tar: corrupt tar archive \(checksum failure\).*download again/);
});

test('archive without end blocks is accepted at a block boundary', async () => {
  const tar = makeTar([{ path: 'a', data: Buffer.from('x') }], { end: false });
  expect(await extractTar(chunked(tar), dir, everyFile, 'x.tar')).toEqual([path.join(dir, 'a')]);
});

