/**
 * Layer builders that declare their parameters as they are used.
 *
 * A network is one forward function over a LayerBuilder. Run in 'train' mode it emits BatchNorm
 * with batch statistics and records them (for the running statistics); in 'eval' mode it reads the
 * running statistics. The parameters a forward pass touches, in order, are the model's parameter
 * list, named with PyTorch's state_dict keys.
 */
import { Graph, Value } from '../graph/ir';
import { TensorMap } from '../io/safetensors';
import { batchNormEval, batchNormTrain } from '../ops/batchnorm';
import { conv } from '../ops/conv';
import { scale } from '../ops/elementwise';
import { linear as linearOp } from '../ops/matmul';
import { ModelSpec } from './spec';

/** How a tensor is initialised: PyTorch's defaults (kaiming_uniform with a = √5 gives U(±1/√fan_in)). */
export type Init = { kind: 'uniform'; bound: number } | { kind: 'fill'; value: number };

export interface TensorInfo {
  name: string;
  shape: number[];
  init: Init;
}

export interface ParamInfo extends TensorInfo {
  trainable: boolean;
  /** Conv weights feeding a BatchNorm: jointly scale-invariant (docs/science.md, Setting). */
  scaleInvariant: boolean;
}

/** The statistics one BatchNorm measured on the batch, per channel [C]; the variance is unbiased, as PyTorch stores it. */
export interface BatchStats {
  /** The BatchNorm's state_dict prefix, e.g. `layer1.0.bn1`. */
  prefix: string;
  mean: Value;
  unbiasedVar: Value;
}

export class LayerBuilder {
  readonly params: ParamInfo[] = [];
  readonly buffers: TensorInfo[] = [];
  readonly batchStats: BatchStats[] = [];
  private readonly values = new Map<string, Value>();

  /** With `frozen`, parameters and buffers become constants holding these values (standalone inference models). */
  constructor(readonly graph: Graph, readonly spec: ModelSpec, readonly mode: 'train' | 'eval', private readonly frozen?: TensorMap) {}

  /** The value (graph input or constant) of a parameter or buffer the forward pass has declared. */
  value(name: string): Value {
    const v = this.values.get(name);
    if (!v) throw new Error(`model uses ${name} before declaring it`);
    return v;
  }

  private declare<T extends TensorInfo>(list: T[], info: T): Value {
    if (this.values.has(info.name)) throw new Error(`parameter ${info.name} declared twice`);
    list.push(info);
    const data = this.frozen?.get(info.name)?.data;
    if (this.frozen && !data) throw new Error(`no value given for ${info.name}`);
    const v = data ? this.graph.constant(data, info.shape, 'float32', info.name) : this.graph.input(info.name, info.shape);
    this.values.set(info.name, v);
    return v;
  }

  conv(name: string, x: Value, outChannels: number, kernel: number, stride = 1, pad = 0): Value {
    const fanIn = x.shape[1] * kernel * kernel;
    const w = this.declare(this.params, {
      name: `${name}.weight`,
      shape: [outChannels, x.shape[1], kernel, kernel],
      init: { kind: 'uniform', bound: 1 / Math.sqrt(fanIn) },
      trainable: true,
      scaleInvariant: true,
    });
    return conv(x, w, { stride, pad });
  }

  batchNorm(name: string, x: Value): Value {
    const { affine, bnEps } = this.spec;
    const c = x.shape[1];
    const gammaBeta = affine
      ? {
          weight: this.declare(this.params, { name: `${name}.weight`, shape: [c], init: { kind: 'fill', value: 1 }, trainable: true, scaleInvariant: false }),
          bias: this.declare(this.params, { name: `${name}.bias`, shape: [c], init: { kind: 'fill', value: 0 }, trainable: true, scaleInvariant: false }),
        }
      : undefined;
    const runningMean = this.declare(this.buffers, { name: `${name}.running_mean`, shape: [c], init: { kind: 'fill', value: 0 } });
    const runningVar = this.declare(this.buffers, { name: `${name}.running_var`, shape: [c], init: { kind: 'fill', value: 1 } });
    if (this.mode === 'eval') return batchNormEval(x, runningMean, runningVar, bnEps, gammaBeta);

    const { y, mean, variance } = batchNormTrain(x, bnEps, gammaBeta);
    const count = x.shape[0] * x.shape[2] * x.shape[3];
    this.batchStats.push({ prefix: name, mean, unbiasedVar: scale(variance, count / (count - 1)) });
    return y;
  }

  linear(name: string, x: Value, outFeatures: number): Value {
    const bound = this.spec.fcScale / Math.sqrt(x.shape[1]);
    const trainable = !this.spec.frozenFc;
    const w = this.declare(this.params, { name: `${name}.weight`, shape: [outFeatures, x.shape[1]], init: { kind: 'uniform', bound }, trainable, scaleInvariant: false });
    const b = this.declare(this.params, { name: `${name}.bias`, shape: [outFeatures], init: { kind: 'uniform', bound }, trainable, scaleInvariant: false });
    return linearOp(x, w, b);
  }
}
