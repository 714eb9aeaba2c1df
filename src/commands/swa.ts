/**
 * `ilr swa`: average SWA snapshots, recompute BatchNorm statistics on the training data
 * (update_bn), evaluate on the test set, and write the averaged model.
 * Data options default to those of the run the snapshots come from (its config.json).
 */
import * as path from 'path';
import { CommandModule } from 'yargs';
import { DATASET_NAMES, DatasetName, loadSubset } from '../data';
import { resolveSnapshots, runConfigOf, swa } from '../analysis/swa';
import { commonOptions, parseEp } from './options';

interface Args {
  checkpoints: string[];
  dataset?: string;
  'data-dir'?: string;
  'train-subset'?: number;
  'test-subset'?: number;
  'data-seed'?: number;
  'bn-batch': number;
  'eval-batch': number;
  out?: string;
  ep: string;
  threads: number;
}

export const swaCommand: CommandModule<object, Args> = {
  command: 'swa',
  describe: 'stochastic weight averaging: average snapshots, recompute BN statistics on the training data, evaluate, write the model',
  builder: (y) =>
    y
      .option('checkpoints', {
        type: 'string', array: true, demandOption: true,
        describe: 'snapshots: a run or checkpoints directory (its epoch-*.safetensors), a glob such as "run/checkpoints/epoch-00*", or files',
      })
      .option('dataset', { type: 'string', describe: `data set (default: the run's, else fashion-mnist): ${DATASET_NAMES.join(', ')}` })
      .option('data-dir', { type: 'string', describe: "directory with the data set files (default: the run's, ILR_DATA_DIR, system, cache)" })
      .option('train-subset', { type: 'number', describe: "training images for the BN statistics (default: the run's subset, else the whole split)" })
      .option('test-subset', { type: 'number', describe: "test images (default: the run's subset, else the whole split)" })
      .option('data-seed', { type: 'number', describe: "seed of the subset choices (default: the run's, else 0)" })
      .option('bn-batch', { type: 'number', default: 128, describe: 'batch size of the BN statistics pass (update_bn averages per-batch statistics)' })
      .option('eval-batch', { type: 'number', default: 500, describe: 'evaluation batch size' })
      .option('out', { type: 'string', describe: 'averaged model file (default: swa.safetensors next to the snapshots)' })
      .option('ep', commonOptions.ep)
      .option('threads', commonOptions.threads),
  handler: async (a) => {
    const snapshots = resolveSnapshots(a.checkpoints);
    const run = runConfigOf(snapshots[0]);
    const dataset = (a.dataset ?? run?.dataset ?? 'fashion-mnist') as DatasetName;
    if (!DATASET_NAMES.includes(dataset)) throw new Error(`--dataset "${dataset}": expected one of ${DATASET_NAMES.join(', ')}`);
    if (!Number.isInteger(a['bn-batch']) || a['bn-batch'] < 1) throw new Error(`--bn-batch must be a positive integer, got ${a['bn-batch']}`);
    const fromRun = run && run.dataset === dataset;
    const seed = a['data-seed'] ?? (fromRun ? run.dataSeed : 0);
    const synthetic = fromRun ? run.synthetic : undefined;
    const opts = { dataDir: a['data-dir'] ?? (fromRun ? run.dataDir : undefined), synthetic };
    const train = await loadSubset({ dataset, split: 'train', size: a['train-subset'] ?? (fromRun ? run.trainSubset : null), seed, synthetic }, opts);
    const test = await loadSubset({ dataset, split: 'test', size: a['test-subset'] ?? (fromRun ? run.testSubset : null), seed, synthetic }, opts);
    const out = a.out ?? path.join(path.dirname(snapshots[0]), 'swa.safetensors');
    const r = await swa({ snapshots, train, test, bnBatch: a['bn-batch'], evalBatch: a['eval-batch'], runtime: { ep: parseEp(a.ep), threads: a.threads }, out });
    console.log(`SWA of ${snapshots.length} snapshots: ${snapshots.map((s) => path.basename(s)).join(', ')}`);
    console.log(`BN statistics recomputed on ${r.bn.images} training images in ${r.bn.batches} batches`);
    console.log(`test (${test.count} images): loss ${r.test.loss.toFixed(4)}, accuracy ${(100 * r.test.acc).toFixed(2)}%`);
    console.log(`wrote ${out}`);
  },
};
