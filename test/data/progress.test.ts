import { colorEnabled, formatBytes, pollProgress, ProgressBar } from '../../src/util/progress';

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
  expect(line).toContain('ETA 15.0 s');
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
});

test('a resumed bar starts at its initial count, and its rate counts only the steps since', () => {
  const { stream } = capture(true);
  let now = 0;
  const bar = new ProgressBar({ total: 1000, initial: 600, label: 'run', unit: 'steps', stream, intervalMs: 0, clock: () => now });
  expect(bar.line()).toMatch(/run \[#{18}-{12}\] 600\/1000 steps/);
  now = 10_000;
  bar.update(700);
  expect(bar.line()).toContain('10 steps/s');
  expect(bar.line()).toContain('ETA 30.0 s');
});

test('log() prints a line of its own above the bar; a 0-column terminal keeps a full-width line', () => {
  const { out, stream } = capture(true);
  const bar = new ProgressBar({ total: 10, label: 'run', stream: { ...stream, columns: 0 }, intervalMs: 0 });
  bar.update(5, 'x'.repeat(60));
  bar.log('step 5: test loss 0.4');
  expect(out[1]).toBe('\r\x1b[Kstep 5: test loss 0.4\n');
  expect(out[2]).toContain('x'.repeat(60)); // not cut to 40 columns
  expect(out[2]).toMatch(/\[#+-+\]/);
  const plain = capture(false);
  new ProgressBar({ stream: plain.stream }).log('step 5: test loss 0.4');
  expect(plain.out).toEqual(['step 5: test loss 0.4\n']);
});

test('colour only on a terminal, and never with NO_COLOR', () => {
  expect(colorEnabled({ isTTY: true }, {})).toBe(true);
  expect(colorEnabled({ isTTY: false }, {})).toBe(false);
  expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
  expect(colorEnabled({ isTTY: true }, { NO_COLOR: '' })).toBe(true); // set but empty: no-color.org says ignore it
  expect(colorEnabled({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
});

test('pollProgress redraws from its poll, and the stop function draws the last count', () => {
  jest.useFakeTimers();
  try {
    const { out, stream } = capture(false);
    let count = 0;
    const bar = new ProgressBar({ total: 100, label: 'sweep', stream, intervalMs: 0 });
    const stop = pollProgress(bar, () => ({ count, suffix: `${count === 100 ? 2 : 0}/2 finished` }), 1000);
    count = 40;
    jest.advanceTimersByTime(1000);
    expect(out[out.length - 1]).toMatch(/^sweep  40\/100/);
    count = 100;
    stop();
    expect(out[out.length - 1]).toMatch(/^sweep  100\/100 .*2\/2 finished\n$/);
  } finally {
    jest.useRealTimers();
  }
});
