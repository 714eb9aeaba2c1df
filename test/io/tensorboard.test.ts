/**
 * TensorBoard event files: a short run, resumed once with its event file cut back and once with
 * none left, read by an independent Python reader that checks every CRC and compares each value with
 * metrics.jsonl; the writer's framing against published CRC32C values.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { pythonWith } from '../../src/bridge/python';
import { crc32c, eventFileIn, readEvents } from '../../src/io/tensorboard';
import { rollingCheckpointsOf, runFiles } from '../../src/train/run-dir';
import { train } from '../../src/train/trainer';
import { tmpDir } from '../cli';
import { itProtobuf } from '../helpers';
import { tinyConfig } from '../train/fixtures';

const READER = path.join(__dirname, 'read_tfevents.py');

function pythonRead(events: string, metrics: string, momentum: number) {
  const py = pythonWith('google.protobuf');
  if (!py) throw new Error("the TensorBoard reader needs Debian's python3-protobuf (`make setup` installs it)");
  return spawnSync(py, [READER, events, metrics, String(momentum)], { encoding: 'utf8' });
}

test('CRC32C (Castagnoli) of the standard check string and of 32 zero bytes', () => {
  expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // RFC 3720, B.4
});

itProtobuf('a resumed run\'s event file decodes in Python, every CRC valid, with the values of metrics.jsonl', async () => {
  const dir = path.join(tmpDir('ilr-tb-'), 'run');
  const config = tinyConfig({ steps: 20, logEvery: 5, layerEvery: 5, evalEvery: 10, checkpointEvery: 10, momentum: 0.9 });
  await train(config, dir, { quiet: true });
  const files = runFiles(dir);
  const events = eventFileIn(dir)!;
  const before = fs.readFileSync(files.metrics, 'utf8');

  // Lose the last checkpoint: the run resumes from step 10, and both logs are cut back to it.
  const [newest] = rollingCheckpointsOf(dir);
  expect(path.basename(newest)).toMatch(/00000020/);
  fs.rmSync(newest);
  await train(config, dir, { resume: true, quiet: true });
  expect(fs.readFileSync(files.metrics, 'utf8')).toBe(before); // bit-identical resume
  expect(eventFileIn(dir)).toBe(events);
  expect(readEvents(events).filter((e) => e.scalars?.['train/loss'] !== undefined).map((e) => e.step)).toEqual([5, 10, 15, 20]);

  const out = pythonRead(events, files.metrics, 0.9);
  expect(out.stderr).toBe('');
  expect(out.status).toBe(0);
  const summary = JSON.parse(out.stdout) as { records: number; values: number; steps: number };
  // The version record, then one event per line of metrics.jsonl (steps 5…20, evaluations at 10 and 20).
  const lines = before.trim().split('\n').length;
  expect(summary.records).toBe(1 + lines);
  expect(summary.steps).toBe(4);

  // Killed during its final evaluation (no summary.json yet): the evaluation is done again, and
  // appears once in the event file as in metrics.jsonl.
  fs.rmSync(files.summary);
  await train(config, dir, { resume: true, quiet: true });
  const redone = pythonRead(events, files.metrics, 0.9);
  expect(redone.stderr).toBe('');
  expect(JSON.parse(redone.stdout)).toEqual(summary);

  // A run that has no event file when it resumes (older, or the file was deleted) gets a whole one.
  fs.rmSync(events);
  fs.rmSync(rollingCheckpointsOf(dir)[0]);
  await train(config, dir, { resume: true, quiet: true });
  const rebuilt = eventFileIn(dir)!;
  const again = pythonRead(rebuilt, files.metrics, 0.9);
  expect(again.stderr).toBe('');
  expect(JSON.parse(again.stdout)).toEqual(summary);

  // The reader is not taken in by damage: one flipped bit in the last record fails its CRC.
  const damaged = path.join(path.dirname(dir), 'damaged.tfevents');
  const bytes = fs.readFileSync(rebuilt);
  bytes[bytes.length - 6] ^= 0x10;
  fs.writeFileSync(damaged, bytes);
  const bad = pythonRead(damaged, files.metrics, 0.9);
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toMatch(/bad data CRC/);
});
