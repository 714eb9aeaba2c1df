/** Following a metrics.jsonl (and a sharpness.jsonl) that grows, is cut back by a resumed run, is replaced, or ends mid-line. */
import * as fs from 'fs';
import * as path from 'path';
import { MetricsTail, RunTail } from '../../src/dashboard/tail';
import { StepLines } from '../../src/io/step-lines';
import { SharpnessRecord } from '../../src/train/hessian';
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

test("a run's sharpness.jsonl is followed beside its metrics: none without it, then its growth and a resume's cut", () => {
  const dir = tmpDir('ilr-tail-');
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), line(5, 2.0));
  const tail = new RunTail(dir);
  const first = tail.read();
  expect(first.sharpness).toEqual([]);
  expect(first.records.steps.map((r) => r.step)).toEqual([5]);
  expect(tail.read().changed).toBe(false);
  // Written as the trainer writes it: appended, then cut back to the checkpoint on a resume.
  const log = new StepLines<SharpnessRecord>(path.join(dir, 'sharpness.jsonl'));
  const measured = (step: number, lambda: number): SharpnessRecord =>
    ({ step, lr: 0.1, lambda_max: lambda, lr_lambda_max: 0.1 * lambda, weight_norm: 3, spherical: 9 * lambda, iterations: 20, residual: 1e-6, params: 'si' });
  for (const s of [0, 10, 20]) log.append(measured(s, 15 + s));
  const grown = tail.read();
  expect(grown.changed).toBe(true);
  expect(grown.sharpness.map((r) => [r.step, r.lambda_max])).toEqual([[0, 15], [10, 25], [20, 35]]);
  expect(tail.read().changed).toBe(false);
  log.truncateAfter(10);
  log.append(measured(20, 30)); // the resumed run measures again from its checkpoint
  const resumed = tail.read();
  expect(resumed.changed).toBe(true);
  expect(resumed.sharpness.map((r) => [r.step, r.lambda_max])).toEqual([[0, 15], [10, 25], [20, 30]]);
  expect(resumed.records.steps.map((r) => r.step)).toEqual([5]);
});
