/** Following a metrics.jsonl that grows, is cut back by a resumed run, is replaced, or ends mid-line. */
import * as fs from 'fs';
import * as path from 'path';
import { MetricsTail } from '../../src/dashboard/tail';
import { tmpDir } from '../cli';

const line = (step: number, loss: number) => JSON.stringify({ type: 'step', step, loss }) + '\n';
const steps = (t: MetricsTail) => t.read().records.steps.map((r) => [r.step, r.loss]);

test('reads complete lines as they are appended, and nothing twice', () => {
  const file = path.join(tmpDir('ilr-tail-'), 'metrics.jsonl');
  const tail = new MetricsTail(file);
  expect(tail.read()).toEqual({ records: { steps: [], evals: [] }, changed: false }); // not started
  fs.writeFileSync(file, line(5, 2.0) + line(10, 1.9));
  expect(steps(tail)).toEqual([[5, 2.0], [10, 1.9]]);
  expect(tail.read().changed).toBe(false);
  // A line still being written waits for its newline.
  fs.appendFileSync(file, line(15, 1.8).slice(0, 12));
  expect(tail.read().changed).toBe(false);
  fs.appendFileSync(file, line(15, 1.8).slice(12) + JSON.stringify({ type: 'eval', step: 15, test_loss: 2.1, test_acc: 0.3 }) + '\n');
  const { records, changed } = tail.read();
  expect(changed).toBe(true);
  expect(records.steps.map((r) => r.step)).toEqual([5, 10, 15]);
  expect(records.evals.map((r) => r.test_loss)).toEqual([2.1]);
});

test('a resume that cuts the file back and writes past the old end is read again from the start', () => {
  const file = path.join(tmpDir('ilr-tail-'), 'metrics.jsonl');
  const tail = new MetricsTail(file);
  fs.writeFileSync(file, line(5, 2.0) + line(10, 1.9) + line(15, 1.8) + '{"type":"step","st'); // killed mid-line
  expect(steps(tail)).toEqual([[5, 2.0], [10, 1.9], [15, 1.8]]);
  // Resumed from step 5 (the cut line goes too), then new records that reach past the old end.
  fs.writeFileSync(file, line(5, 2.0) + line(10, 1.7) + line(15, 1.6) + line(20, 1.5));
  expect(steps(tail)).toEqual([[5, 2.0], [10, 1.7], [15, 1.6], [20, 1.5]]);
  // Cut back to fewer bytes than were read.
  fs.writeFileSync(file, line(5, 2.0));
  expect(steps(tail)).toEqual([[5, 2.0]]);
});

test('a file replaced by a rename, or removed, is followed too; a garbled line is skipped', () => {
  const dir = tmpDir('ilr-tail-');
  const file = path.join(dir, 'metrics.jsonl');
  const tail = new MetricsTail(file);
  fs.writeFileSync(file, line(5, 2.0) + line(10, 1.9));
  expect(steps(tail)).toHaveLength(2);
  fs.writeFileSync(path.join(dir, 'new'), line(5, 2.0) + '{not json\n' + line(10, 1.9));
  fs.renameSync(path.join(dir, 'new'), file);
  expect(tail.read().changed).toBe(true);
  expect(steps(tail)).toEqual([[5, 2.0], [10, 1.9]]);
  fs.rmSync(file);
  expect(tail.read()).toEqual({ records: { steps: [], evals: [] }, changed: true });
});
