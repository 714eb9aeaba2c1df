/**
 * The atomic write helper under a device that takes fewer bytes than offered, or fills up:
 * fs.writeSync is replaced for the duration of one call, as a full disk or a slow pipe behaves.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../../src/io/files';
import { MetricsLog } from '../../src/train/metrics';
import { tmpDir } from '../cli';

let dir: string;
beforeAll(() => {
  dir = tmpDir('ilr-atomic-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const enospc = (): NodeJS.ErrnoException => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
// The module object itself: `import * as` gives a read-only view of it, which cannot be spied on.
const fsModule = require('fs') as typeof fs;
const real = fsModule.writeSync;

/** Runs `f` with fs.writeSync taking at most `chunk` bytes a call, and failing with ENOSPC after `capacity` bytes in all. */
function withDevice<T>(o: { chunk: number; capacity: number }, f: () => T): T {
  let taken = 0;
  const spy = jest.spyOn(fsModule, 'writeSync').mockImplementation(((fd: number, buf: NodeJS.ArrayBufferView | string, offset?: number, length?: number) => {
    if (typeof buf === 'string') return real(fd, buf);
    const want = Math.min(length ?? buf.byteLength, o.chunk, o.capacity - taken);
    if (want <= 0) throw enospc();
    taken += want;
    return real(fd, buf, offset ?? 0, want);
  }) as typeof fs.writeSync);
  try {
    return f();
  } finally {
    spy.mockRestore();
  }
}

const tmpFiles = () => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

it('a device that takes 1000 bytes a call still gets every byte', () => {
  const file = path.join(dir, 'short-writes.bin');
  const bytes = Buffer.from(Array.from({ length: 10000 }, (_, i) => i % 251));
  withDevice({ chunk: 1000, capacity: Infinity }, () => writeFileAtomic(file, bytes));
  expect(fs.readFileSync(file).equals(bytes)).toBe(true);
});

it('a disk that fills mid-write: the error names the file and ENOSPC, the old file is unchanged, no temp file is left', () => {
  const file = path.join(dir, 'full.bin');
  fs.writeFileSync(file, 'the old version');
  const write = () => withDevice({ chunk: 4096, capacity: 5000 }, () => writeFileAtomic(file, Buffer.alloc(20000, 7)));
  expect(write).toThrow(`cannot write ${file}: no space left on the device (ENOSPC). Nothing was written under that name`);
  expect(fs.readFileSync(file, 'utf8')).toBe('the old version');
  expect(tmpFiles()).toEqual([]);
});

it('the metrics log cut on resume is rewritten atomically: a full disk during it leaves the old log', () => {
  const log = new MetricsLog(path.join(dir, 'metrics.jsonl'));
  for (let step = 5; step <= 50; step += 5) log.append({ type: 'eval', step, epoch: step / 8, test_loss: 1, test_acc: 0.5 });
  const before = fs.readFileSync(log.file, 'utf8');
  expect(() => withDevice({ chunk: 4096, capacity: 10 }, () => log.truncateAfter(30))).toThrow(`cannot write ${log.file}: no space left on the device`);
  expect(fs.readFileSync(log.file, 'utf8')).toBe(before);
  log.truncateAfter(30);
  expect(fs.readFileSync(log.file, 'utf8').trim().split('\n').length).toBe(6);
});

it('a metrics line that cannot be appended names the file', () => {
  const log = new MetricsLog(path.join(dir, 'append.jsonl'));
  expect(() => withDevice({ chunk: 4096, capacity: 0 }, () => log.append({ type: 'eval', step: 1, epoch: 0, test_loss: 1, test_acc: 0.5 }))).toThrow(`cannot write ${log.file}: no space left on the device (ENOSPC). The last line may be cut short`);
});
