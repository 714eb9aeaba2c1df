/**
 * Layer builders that declare their parameters as they are used.
 *
 * A network is one forward function over a LayerBuilder. Run in 'train' mode its norm layers use
 * batch statistics, and BatchNorm records them (for the running statistics); in 'eval' mode
 * BatchNorm reads the running statistics. The parameters a forward pass touches, in order, are
 * the model's parameter list, named with PyTorch's state_dict keys. Every layer and function the
 * forward pass applies is also recorded as a step of the model's `Architecture`, from which the
 * PyTorch referee builds the same network (scripts/torch_bridge.py), so there is one model list.
 */
import { Graph, Value } from '../graph/ir';
import { TensorMap } from '../graph/tensors';
import { conv } from '../ops/conv';
import { add as addOp, relu as reluOp } from '../ops/elementwise';
import { linear as linearOp } from '../ops/matmul';
import { reduceMean } from '../ops/reduce';
import { applyNorm, torchNorm, TorchModule } from './norms';
import { ModelSpec } from './spec';

/** How a tensor is initialised: PyTorch's defaults (kaiming_uniform with a = √5 gives U(±1/√fan_in)). */
export type Init = { kind: 'uniform'; bound: number } | { kind: 'fill'; value: number };

export interface TensorInfo {
  name: string;
  shape: number[];
  init: Init;
}

/** A parameter as a layer declares it. */
export interface ParamDecl extends TensorInfo {
  trainable: boolean;
  /** The kind of layer that owns it: a conv weight is the one kind a following norm layer can make scale-invariant. */
  kind: 'conv' | 'norm' | 'linear';
}

/** The statistics one BatchNorm measured on the batch, per channel [C]; the variance is unbiased, as PyTorch stores it. */
export interface BatchStats {
  /** The BatchNorm's state_dict prefix, e.g. `layer1.0.bn1`. */
  prefix: string;
  mean: Value;
  unbiasedVar: Value;
}

/**
 * One step of the forward pass: a torch.nn module (`name` is its state_dict prefix) applied to
 * one value, or a function (`relu`, `add`, `mean_hw`: the mean over H and W) of several. Values
 * are numbered; 0 is the model's input.
 */
export interface ArchitectureStep {
  call: string;
  name?: string;
  args?: TorchModule['args'];
  /** How the module's parameters are initialised, by their name inside it (weight, bias). */
  init?: Record<string, Init>;
  /** Its parameters are never trained. */
  frozen?: boolean;
  inputs: number[];
  output: number;
}

/** The forward pass as data; the spec rides along so that the referee can name the model it built. */
export interface Architecture {
  model: ModelSpec;
  inChannels: number;
  numClasses: number;
  output: number;
  steps: ArchitectureStep[];
}

export class LayerBuilder {
  readonly params: ParamDecl[] = [];
  readonly buffers: TensorInfo[] = [];
  readonly batchStats: BatchStats[] = [];
  private readonly values = new Map<string, Value>();
  private readonly steps: ArchitectureStep[] = [];
  private readonly numbers = new Map<Value, number>();
  /** The parameters and buffers of the pass this one repeats (secondPass), by name. */
  private shared?: ReadonlyMap<string, Value>;

  /** With `frozen`, parameters and buffers become constants holding these values (standalone inference models). */
  constructor(readonly graph: Graph, readonly spec: ModelSpec, readonly mode: 'train' | 'eval', private readonly frozen?: TensorMap) {}

  /** The value (graph input or constant) of a parameter or buffer the forward pass has declared. */
  value(name: string): Value {
    const v = this.values.get(name);
    if (!v) throw new Error(`model uses ${name} before declaring it`);
    return v;
  }

  /**
   * A builder for another forward pass in the same graph that reads this pass's parameters and
   * buffers (SVAG's second batch): its own activations and batch statistics, the same weights.
   */
  secondPass(): LayerBuilder {
    const b = new LayerBuilder(this.graph, this.spec, this.mode, this.frozen);
    b.shared = this.values;
    return b;
  }

  private declare<T extends TensorInfo>(list: T[], info: T): Value {
    if (this.values.has(info.name)) throw new Error(`parameter ${info.name} declared twice`);
    list.push(info);
    const data = this.frozen?.get(info.name)?.data;
    if (this.frozen && !data) throw new Error(`no value given for ${info.name}`);
    const v = this.shared?.get(info.name) ?? (data ? this.graph.constant(data, info.shape, 'float32', info.name) : this.graph.input(info.name, info.shape));
    this.values.set(info.name, v);
    return v;
  }

  param(info: ParamDecl): Value {
    return this.declare(this.params, info);
  }

  buffer(info: TensorInfo): Value {
    return this.declare(this.buffers, info);
  }

  private number(v: Value): number {
    if (!this.numbers.has(v)) this.numbers.set(v, this.numbers.size);
    return this.numbers.get(v)!;
  }

  /** Records a step: a function by name, or a module, whose step carries the initialisation of the parameters declared under its name. */
  private record(inputs: Value[], output: Value, call: string | { name: string; torch: TorchModule; frozen?: boolean }): Value {
    const module = typeof call === 'string' ? undefined : call;
    const step: ArchitectureStep = { call: module ? module.torch.module : (call as string), inputs: inputs.map((v) => this.number(v)), output: this.number(output) };
    if (module) {
      const own = this.params.filter((p) => p.name.startsWith(`${module.name}.`) && !p.name.slice(module.name.length + 1).includes('.'));
      Object.assign(step, { name: module.name, args: module.torch.args, init: Object.fromEntries(own.map((p) => [p.name.slice(module.name.length + 1), p.init])) });
      if (module.frozen) step.frozen = true;
    }
    this.steps.push(step);
    return output;
  }

  /** The steps recorded so far as the architecture from `input` to `output`; fails if the forward pass used a value no step made. */
  architecture(input: Value, output: Value): Architecture {
    if (this.numbers.get(input) !== 0) throw new Error('the model input must be the first value a step reads');
    const made = new Set([0]);
    for (const s of this.steps) {
      const unknown = s.inputs.find((i) => !made.has(i));
      if (unknown !== undefined) throw new Error(`step ${s.call}${s.name ? ` (${s.name})` : ''} reads a value made outside the LayerBuilder: apply every op of a model through it`);
      made.add(s.output);
    }
    if (!made.has(this.number(output))) throw new Error('the model output was made outside the LayerBuilder');
    return { model: this.spec, inChannels: this.spec.inChannels, numClasses: this.spec.numClasses, output: this.number(output), steps: this.steps };
  }

  /**
   * Records a node of an imported ONNX graph as a step (`onnx.<op type>`, named by the node): the
   * architecture of an imported network documents it; its PyTorch twin is the user's own module.
   * `inputs` are the activations it reads (not its parameters or constants).
   */
  imported(opType: string, node: string, inputs: Value[], output: Value): Value {
    this.record(inputs, output, `onnx.${opType}`);
    this.steps[this.steps.length - 1].name = node;
    return output;
  }

  conv(name: string, x: Value, outChannels: number, kernel: number, stride = 1, pad = 0): Value {
    const fanIn = x.shape[1] * kernel * kernel;
    const w = this.param({
      name: `${name}.weight`,
      shape: [outChannels, x.shape[1], kernel, kernel],
      init: { kind: 'uniform', bound: 1 / Math.sqrt(fanIn) },
      trainable: true,
      kind: 'conv',
    });
    const args = { in_channels: x.shape[1], out_channels: outChannels, kernel_size: kernel, stride, padding: pad, bias: false };
    return this.record([x], conv(x, w, { stride, pad }), { name, torch: { module: 'Conv2d', args } });
  }

  /** The spec's normalisation layer (src/nn/norms.ts). */
  norm(name: string, x: Value): Value {
    const y = applyNorm(this, name, x, this.spec.norm);
    return this.record([x], y, { name, torch: torchNorm(this, x, this.spec.norm) });
  }

  linear(name: string, x: Value, outFeatures: number): Value {
    const bound = this.spec.fcScale / Math.sqrt(x.shape[1]);
    const trainable = !this.spec.frozenFc;
    const w = this.param({ name: `${name}.weight`, shape: [outFeatures, x.shape[1]], init: { kind: 'uniform', bound }, trainable, kind: 'linear' });
    const b = this.param({ name: `${name}.bias`, shape: [outFeatures], init: { kind: 'uniform', bound }, trainable, kind: 'linear' });
    const args = { in_features: x.shape[1], out_features: outFeatures };
    return this.record([x], linearOp(x, w, b), { name, torch: { module: 'Linear', args }, frozen: !trainable });
  }

  relu(x: Value): Value {
    return this.record([x], reluOp(x), 'relu');
  }

  add(a: Value, b: Value): Value {
    return this.record([a, b], addOp(a, b), 'add');
  }

  /** The mean over H and W: [N,C,H,W] → [N,C]. */
  globalAvgPool(x: Value): Value {
    return this.record([x], reduceMean(x, [2, 3]), 'mean_hw');
  }
}
