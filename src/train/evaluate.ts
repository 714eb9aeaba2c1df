/**
 * Evaluation: loss and accuracy over a whole data set in fixed-size batches, with BN's running
 * statistics (eval mode, the default) or with each batch's own (train mode: the function SGD
 * trains, as the ExpLR figure compares it).
 */
import { Batch, Dataset, fullBatches } from '../data';
import { TensorMap } from '../graph/tensors';
import { InputShape } from '../nn/model';
import { ModelSpec } from '../nn/spec';
import { evaluateGraph } from '../programs/programs';
import { Program, RuntimeOptions } from '../runtime/session';

export interface EvalResult {
  loss: number;
  acc: number;
  count: number;
  /** The predicted label of every image, when asked for. */
  labels?: Uint8Array;
}

/** Mean cross-entropy and accuracy of logit rows [0, rows) in float64; the predicted labels go to `predicted` when given. */
export function scoreLogits(logits: ArrayLike<number>, labels: BigInt64Array, rows: number, classes: number, predicted?: Uint8Array): { lossSum: number; correct: number } {
  let lossSum = 0;
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    let arg = 0;
    for (let k = 0; k < classes; k++) {
      const v = logits[r * classes + k];
      if (v > max) {
        max = v;
        arg = k;
      }
    }
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp(logits[r * classes + k] - max);
    const label = Number(labels[r]);
    lossSum += Math.log(sum) + max - logits[r * classes + label];
    if (arg === label) correct++;
    if (predicted) predicted[r] = arg;
  }
  return { lossSum, correct };
}

export class Evaluator {
  private constructor(private readonly program: Program, readonly batch: number, private readonly classes: number) {}

  static async create(spec: ModelSpec, input: InputShape, batch: number, runtime: RuntimeOptions, mode: 'eval' | 'train' = 'eval'): Promise<Evaluator> {
    return new Evaluator(await Program.create(evaluateGraph({ spec, batch, input }, mode), runtime), batch, spec.numClasses);
  }

  /**
   * Loss and accuracy on every image of `ds` (the last batch is padded by wrapping; padding is not
   * counted). `onImages` hears how many images each batch scored (a progress bar).
   */
  async evaluate(state: TensorMap, ds: Dataset, opts: { labels?: boolean; onImages?: (n: number) => void } = {}): Promise<EvalResult> {
    let lossSum = 0;
    let correct = 0;
    const labels = opts.labels ? new Uint8Array(ds.count) : undefined;
    for (const b of fullBatches(ds, { chunkSize: this.batch, last: 'wrap' })) {
      const rows = Math.min(this.batch, ds.count - b.index * this.batch);
      const s = scoreLogits(await this.logits(state, b), b.y, rows, this.classes, labels?.subarray(b.index * this.batch));
      lossSum += s.lossSum;
      correct += s.correct;
      opts.onImages?.(rows);
    }
    return { loss: lossSum / ds.count, acc: correct / ds.count, count: ds.count, ...(labels ? { labels } : {}) };
  }

  /** The logits of one batch of exactly `batch` images. */
  async logits(state: TensorMap, b: Pick<Batch, 'x' | 'y'>): Promise<Float32Array> {
    const feeds: Record<string, Float32Array> = {};
    for (const [k, v] of state) feeds[k] = v.data as Float32Array;
    return (await this.program.run({ ...feeds, input: b.x, target: b.y }, ['logits'])).logits as Float32Array;
  }

  async release(): Promise<void> {
    await this.program.release();
  }
}
