/**
 * PyTorch's torch.optim.swa_utils.update_bn: every BN's running statistics become the plain
 * average of its batch statistics over one pass of a data set (momentum None, every batch
 * weighted equally, the last smaller batch included, unbiased variance). SWA needs it for the
 * averaged weights; evaluation during training can use it instead of the running statistics,
 * which lag the weights when they turn fast (large λη).
 */
import { Dataset, fullBatches } from '../data';
import { TensorMap } from '../graph/tensors';
import { InputShape, modelLayout } from '../nn/model';
import { ModelSpec } from '../nn/spec';
import { batchStatsGraph } from '../programs/programs';
import { Program, RuntimeOptions } from '../runtime/session';

export interface BnUpdate {
  /** running_mean / running_var of every BN. */
  stats: TensorMap;
  batches: number;
  images: number;
}

/** Computes update_bn statistics; keeps one compiled program per batch size for reuse. */
export class BnStatistics {
  private readonly programs = new Map<number, Program>();

  constructor(private readonly spec: ModelSpec, private readonly input: InputShape, private readonly batch: number, private readonly runtime: RuntimeOptions = {}) {}

  private async program(n: number): Promise<Program> {
    if (!this.programs.has(n)) this.programs.set(n, await Program.create(batchStatsGraph({ spec: this.spec, batch: n, input: this.input }), this.runtime));
    return this.programs.get(n)!;
  }

  /** The running statistics update_bn gives `params` on `data` (in its stored order, unaugmented). */
  async compute(params: TensorMap, data: Dataset): Promise<BnUpdate> {
    const layout = modelLayout(this.spec, this.input);
    const feeds: Record<string, Float32Array> = {};
    for (const [k, v] of params) feeds[k] = v.data as Float32Array;
    // Running statistics are inputs of the train-mode forward but do not affect batch statistics.
    for (const b of layout.buffers) if (!feeds[b.name]) feeds[b.name] = new Float32Array(b.shape.reduce((x, y) => x * y, 1)).fill(b.name.endsWith('running_var') ? 1 : 0);
    const avg = new Map<string, Float64Array>();
    let batches = 0;
    for (const b of fullBatches(data, { chunkSize: this.batch, last: 'keep' })) {
      const p = await this.program(b.y.length);
      const out = await p.run({ ...feeds, input: b.x, target: b.y }, p.outputNames);
      batches++;
      for (const [name, v] of Object.entries(out)) {
        // batch.<bn>.mean → <bn>.running_mean, batch.<bn>.var → <bn>.running_var
        const m = /^batch\.(.+)\.(mean|var)$/.exec(name);
        if (!m) continue;
        const key = `${m[1]}.running_${m[2]}`;
        if (!avg.has(key)) avg.set(key, new Float64Array(v.length));
        const a = avg.get(key)!;
        for (let i = 0; i < a.length; i++) a[i] += ((v[i] as number) - a[i]) / batches;
      }
    }
    const stats: TensorMap = new Map();
    for (const info of layout.buffers) {
      const a = avg.get(info.name);
      if (!a) throw new Error(`batch statistics program gave no value for ${info.name}`);
      stats.set(info.name, { dtype: 'float32', shape: info.shape, data: Float32Array.from(a) });
    }
    return { stats, batches, images: data.count };
  }

  async release(): Promise<void> {
    for (const p of this.programs.values()) await p.release();
    this.programs.clear();
  }
}

/** One update_bn pass with programs compiled for it and released after. */
export async function recomputeBn(spec: ModelSpec, input: InputShape, params: TensorMap, data: Dataset, batch: number, runtime: RuntimeOptions = {}): Promise<BnUpdate> {
  const bn = new BnStatistics(spec, input, batch, runtime);
  try {
    return await bn.compute(params, data);
  } finally {
    await bn.release();
  }
}
