/**
 * What `ilr train` says on the terminal (a line per evaluation, the final evaluation's progress,
 * a resumed bar that starts at the resumed step) and `ilr metrics RUN --csv`, whose cells are the
 * values of metrics.jsonl digit for digit.
 */
import * as fs from 'fs';
import * as path from 'path';
import { rollingCheckpointsOf } from '../../src/train/trainer';
import { runCli, tmpDir, writeConfig } from '../cli';
import { tinyConfig } from '../train/fixtures';

test('ilr train prints evaluations and resumes its bar at the resumed step; ilr metrics --csv has every value', async () => {
  const root = tmpDir('ilr-metrics-');
  const run = path.join(root, 'run');
  const config = writeConfig(root, 'config.json', tinyConfig({ steps: 20, logEvery: 5, layerEvery: 10, evalEvery: 10, checkpointEvery: 10 }));
  const first = await runCli(['train', '--config', config, '--out', run, '--threads', '1']);
  expect(first.code).toBe(0);
  // stderr is a pipe here: plain lines, no redraws.
  expect(first.stderr).toMatch(/^step 10 \(epoch 1\.25\): test loss \d\.\d{4} acc \d+\.\d\d%  train loss \d\.\d{4} acc \d+\.\d\d%$/m);
  expect(first.stderr).toMatch(/^run final evaluation +184\/184 +img .*test acc \d+\.\d\d%$/m); // 120 test + 64 train-subset images

  fs.rmSync(rollingCheckpointsOf(run)[0]); // lose step 20's checkpoint: resume from step 10
  const resumed = await runCli(['train', '--resume', run, '--threads', '1']);
  expect(resumed.code).toBe(0);
  expect(resumed.stderr.split('\n')[0]).toMatch(/^run +15\/20 +steps/);

  const csv = await runCli(['metrics', run, '--csv']);
  expect(csv.code).toBe(0);
  const [head, ...rows] = csv.stdout.trim().split('\n').map((l) => l.split(','));
  const records = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const cell = (step: number, column: string) => rows.find((r) => Number(r[0]) === step)![head.indexOf(column)];
  expect(rows.map((r) => Number(r[0]))).toEqual([5, 10, 15, 20]);
  for (const r of records) {
    if (r.type === 'step') {
      for (const k of ['lr', 'loss', 'loss_avg', 'si_w_norm', 'eff_lr', 'angular_update', 'cos_wg']) expect(Number(cell(r.step, k))).toBe(r[k]);
      for (const [name, layer] of Object.entries(r.layers ?? {}) as [string, Record<string, number>][]) {
        for (const k of ['w_norm', 'g_norm', 'angular_update', 'eff_lr']) expect(Number(cell(r.step, `layers.${name}.${k}`))).toBe(layer[k]);
      }
    } else {
      expect(Number(cell(r.step, 'test_acc'))).toBe(r.test_acc);
      expect(Number(cell(r.step, 'train_loss'))).toBe(r.train_loss);
    }
  }
  expect(cell(5, 'test_loss')).toBe(''); // no evaluation at step 5
  expect(head).toContain('layers.conv1.weight.angular_update');
});
