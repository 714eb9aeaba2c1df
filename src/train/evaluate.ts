/** Evaluation with running statistics: loss and accuracy over a whole data set, in fixed-size batches. */
import { Dataset, fullBatches } from '../data';
import { TensorMap } from '../io/safetensors';
import { InputShape } from '../nn/model';
import { ModelSpec } from '../nn/spec';
import { evaluateGraph } from '../programs/programs';
import { Program, RuntimeOptions } from '../runtime/session';

export interface EvalResult {
  loss: number;
  acc: number;
  count: number;
}

/** Mean cross-entropy and accuracy of logit rows [0, rows) in float64. */
export function scoreLogits(logits: ArrayLike<number>, labels: BigInt64Array, rows: number, classes: number): { lossSum: number; correct: number } {
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
  }
  return { lossSum, correct };
}

export class Evaluator {
  private constructor(private readonly program: Program, readonly batch: number, private readonly classes: number) {}

  static async create(spec: ModelSpec, input: InputShape, batch: number, runtime: RuntimeOptions): Promise<Evaluator> {
    return new Evaluator(await Program.create(evaluateGraph({ spec, batch, input }), runtime), batch, spec.numClasses);
  }

  /**
   * Loss and accuracy on every image of `ds` (the last batch is padded by wrapping; padding is not
   * counted). `onImages` hears how many images each batch scored (a progress bar).
   */
  async evaluate(state: TensorMap, ds: Dataset, onImages?: (n: number) => void): Promise<EvalResult> {
    const feeds: Record<string, Float32Array> = {};
    for (const [k, v] of state) feeds[k] = v.data as Float32Array;
    let lossSum = 0;
    let correct = 0;
    for (const b of fullBatches(ds, { chunkSize: this.batch, last: 'wrap' })) {
      const rows = Math.min(this.batch, ds.count - b.index * this.batch);
      const out = await this.program.run({ ...feeds, input: b.x, target: b.y }, ['logits']);
      const s = scoreLogits(out.logits as Float32Array, b.y, rows, this.classes);
      lossSum += s.lossSum;
      correct += s.correct;
      onImages?.(rows);
    }
    return { loss: lossSum / ds.count, acc: correct / ds.count, count: ds.count };
  }

  async release(): Promise<void> {
    await this.program.release();
  }
}
