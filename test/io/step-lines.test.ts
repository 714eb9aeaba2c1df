/**
 * The run's JSONL logs are read by one reader (StepLines), whatever reads them: a last line cut by
 * a crash (or still being written) is left out; a damaged line before it is an error naming the
 * file and the line.
 */
import * as fs from 'fs';
import * as path from 'path';
import { StepLines } from '../../src/io/step-lines';
import { readMetrics } from '../../src/train/metrics';
import { readPredictions } from '../../src/train/predictions';
import { tmpDir } from '../cli';

let dir: string;
beforeAll(() => {
  dir = tmpDir('ilr-step-lines-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const step = (n: number) => ({ type: 'eval', step: n, epoch: n / 10, test_loss: 1 / n, test_acc: 0.5 });
const prediction = (n: number) => ({ step: n, labels: Buffer.from([n, n + 1]).toString('base64') });
const lines = (records: object[]) => records.map((r) => JSON.stringify(r) + '\n').join('');

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('a last line cut by a crash is left out', () => {
  it('readMetrics', () => {
    const file = write('cut-metrics.jsonl', lines([step(1), step(2)]) + JSON.stringify(step(3)).slice(0, 20));
    expect(readMetrics(file)).toEqual([step(1), step(2)]);
  });

  it('readPredictions', () => {
    const file = write('cut-predictions.jsonl', lines([prediction(1), prediction(2)]) + JSON.stringify(prediction(3)).slice(0, 12));
    const read = readPredictions(file);
    expect(read.steps).toEqual([1, 2]);
    expect(read.labels).toEqual([Uint8Array.of(1, 2), Uint8Array.of(2, 3)]);
  });

  it('StepLines.read, and a whole last line without its newline is left out too (it may still be being written)', () => {
    const file = write('no-newline.jsonl', lines([step(1)]) + JSON.stringify(step(2)));
    expect(new StepLines(file).read()).toEqual([step(1)]);
  });
});

describe('a line damaged in the middle is an error naming the file and the line', () => {
  const damaged = () => write('damaged.jsonl', lines([step(1)]) + JSON.stringify(step(2)).slice(0, 15) + '\n' + lines([step(3)]));

  it.each([
    ['StepLines.read', (f: string) => new StepLines(f).read()],
    ['readMetrics', readMetrics],
    ['StepLines.truncateAfter', (f: string) => new StepLines(f).truncateAfter(3)],
  ])('%s', (_, read) => {
    const file = damaged();
    expect(() => read(file)).toThrow(`${file}, line 2 is not a JSON record`);
  });
});

it('a missing log is named', () => {
  expect(() => readMetrics(path.join(dir, 'none.jsonl'))).toThrow(`${path.join(dir, 'none.jsonl')}: no metrics; has the run started?`);
});
