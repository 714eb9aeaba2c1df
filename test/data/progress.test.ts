import { ProgressBar, formatBytes, formatDuration } from '../../src/util/progress';

function capture(tty: boolean) {
  const out: string[] = [];
  return { out, stream: { write: (s: string) => out.push(s), isTTY: tty, columns: 100 } };
}

test('non-TTY: plain lines, throttled, and a final line from done()', () => {
  const { out, stream } = capture(false);
  const bar = new ProgressBar({ total: 2_000_000, label: 'download x', unit: 'bytes', stream, intervalMs: 60_000 });
  bar.update(1000);
  bar.update(2000); // within the interval: not printed
  bar.done('verified');
  expect(out.length).toBe(2);
  expect(out[0]).toMatch(/^download x  1\.00 kB\/2\.00 MB/);
  expect(out[0].endsWith('\n')).toBe(true);
  expect(out[1]).toMatch(/2\.00 kB\/2\.00 MB .*verified\n$/);
  expect(out[0]).not.toContain('\r');
  bar.done();
  expect(out.length).toBe(2);
});

test('TTY: one line redrawn in place with a bar, count/total, rate, ETA and suffix', () => {
  const { out, stream } = capture(true);
  let now = 1000;
  const bar = new ProgressBar({ total: 100, label: 'epoch 3', unit: 'img', stream, intervalMs: 0, clock: () => now });
  now += 5000;
  bar.tick(25, 'loss 0.52');
  expect(out[0].startsWith('\r')).toBe(true);
  expect(out[0]).toMatch(/epoch 3 \[#+-+\] 25\/100 img/);
  expect(out[0]).toContain('loss 0.52');
  expect(out[0]).toContain('\x1b[K');
  const line = bar.line(100);
  expect(line).toContain('5 img/s');
  expect(line).toContain('ETA 0:15');
  bar.done();
  expect(out[out.length - 1].endsWith('\n')).toBe(true);
});

test('quiet prints nothing; formatters', () => {
  const { out, stream } = capture(true);
  const bar = new ProgressBar({ total: 10, stream, quiet: true, intervalMs: 0 });
  bar.tick();
  bar.done();
  expect(out).toEqual([]);
  expect(formatBytes(999)).toBe('999 B');
  expect(formatBytes(170_052_171)).toBe('170.1 MB');
  expect(formatDuration(75)).toBe('1:15');
  expect(formatDuration(3725)).toBe('1:02:05');
  expect(formatDuration(Infinity)).toBe('?');
});
