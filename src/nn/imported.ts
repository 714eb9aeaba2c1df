/**
 * A network exported to ONNX as a model: `--model path/to/net.onnx`. The importer maps every node
 * of the file's graph onto the IR, through the LayerBuilder, so the train step, its gradients
 * (the project's own rules), the running statistics and the scale-invariance analysis are those
 * of any model here. What it takes from the file is the architecture and the parameter names
 * (torch.onnx.export keeps the state_dict keys); the parameters are initialised as the zoo's are
 * (torch.nn's default distributions, seeded), not from the file's values.
 *
 * - The batch dimension is ours: the export's is replaced by the program's batch.
 * - BatchNormalization always trains with batch statistics (BatchNormTrain), from training-mode
 *   and eval-mode exports alike; its running statistics are buffers, updated with the graph's
 *   momentum, and read in eval mode.
 * - Dropout with a ratio above 0 in training mode is refused: its random mask is a draw that the
 *   PyTorch referee could not repeat, so no gradient of such a step could be checked, and the
 *   paper's analysis has no dropout. Exports with dropout off (p = 0, or eval mode) import it as
 *   the identity.
 * - `--si` (the fully scale-invariant variant): the norm layers' γ and β frozen at 1 and 0, and
 *   the last layer frozen at its initialisation (×fcScale, 10 by default, as the zoo's -si).
 */
import { basename } from 'path';
import { onnx } from 'onnx-proto';
import { Graph, ShapeError, Value } from '../graph/ir';
import { convolve } from '../ops/conv';
import { add, clip, mul, relu } from '../ops/elementwise';
import { gemm, matmul } from '../ops/matmul';
import { maxPool } from '../ops/pool';
import { reduceMean } from '../ops/reduce';
import { concat, reshape } from '../ops/shape';
import { CommonSpec, ModelEntry } from './entry';
import { Init, LayerBuilder, ParamDecl } from './layers';
import { batchNormLayer } from './norms';
import { OnnxImportError, OnnxModel, OnnxNode, OnnxTensor, int64, readOnnxModel, readTensor } from './onnx-file';

/** A model name that names an ONNX file. */
export const isImportedName = (name: string): boolean => name.endsWith('.onnx');

export interface ImportedSpec extends CommonSpec {
  arch: 'onnx';
  /** The model file as it was named; its content is pinned by `sha256`, and a changed file is refused. */
  file: string;
  sha256: string;
}

/** Parsed files, by path, size and modification time (parse) and by content (forward). */
const byPath = new Map<string, OnnxModel>();
const byHash = new Map<string, OnnxModel>();

function readCached(file: string): OnnxModel {
  const model = readOnnxModel(file);
  byHash.set(model.sha256, model);
  return model;
}

function loadFile(file: string): OnnxModel {
  const known = byPath.get(file);
  if (known) return known;
  const model = readCached(file);
  byPath.set(file, model);
  return model;
}

/** The model a spec names, read again only when its content is not in memory; a file whose content changed is refused. */
export function importedModel(spec: ImportedSpec): OnnxModel {
  const known = byHash.get(spec.sha256);
  if (known) return known;
  const model = readCached(spec.file);
  if (model.sha256 !== spec.sha256) {
    throw new OnnxImportError(spec.file, `the file changed since the run started (sha256 ${spec.sha256.slice(0, 12)}…, now ${model.sha256.slice(0, 12)}…); restore it, or start a new run`);
  }
  return model;
}

const T = onnx.AttributeProto.AttributeType;

function attrInt(n: OnnxNode, key: string, dflt: number): number {
  const a = n.attrs.get(key);
  return a && a.type === T.INT ? Number(int64(a.i)) : dflt;
}

function attrInts(n: OnnxNode, key: string, dflt: number[]): number[] {
  const a = n.attrs.get(key);
  return a && a.type === T.INTS ? (a.ints ?? []).map((v) => Number(int64(v))) : dflt;
}

function attrFloat(n: OnnxNode, key: string, dflt: number): number {
  const a = n.attrs.get(key);
  return a && a.type === T.FLOAT ? (a.f ?? 0) : dflt;
}

function attrString(n: OnnxNode, key: string, dflt: string): string {
  const a = n.attrs.get(key);
  return a && a.type === T.STRING && a.s ? Buffer.from(a.s).toString('utf8') : dflt;
}

/** A float32 attribute as the decimal PyTorch wrote (1e-5, not 9.99999975e-6). */
const decimal = (f: number): number => Number(f.toPrecision(7));

/** BatchNorm's ε and PyTorch momentum (ONNX's momentum is 1 − PyTorch's) from a node. */
const bnSettings = (n: OnnxNode) => ({ eps: decimal(attrFloat(n, 'epsilon', 1e-5)), momentum: decimal(1 - attrFloat(n, 'momentum', 0.9)) });

const uniform = (fanIn: number, scale = 1): Init => ({ kind: 'uniform', bound: scale / Math.sqrt(fanIn) });

/** Maps one file's nodes onto the IR through a LayerBuilder. */
class Importer {
  private readonly values = new Map<string, Value>();
  private readonly statics = new Map<string, OnnxTensor>();
  /** The values nodes computed (and the input): what a recorded step reads. */
  private readonly activations = new Set<Value>();
  /** The node whose weight is the last layer's (frozen by --si): the last Gemm or MatMul with a stored weight, else the last Conv. */
  private readonly lastLayer: OnnxNode | undefined;

  constructor(private readonly b: LayerBuilder, private readonly spec: ImportedSpec, private readonly model: OnnxModel) {
    const layers = model.nodes.filter((n) => (n.op === 'Gemm' || n.op === 'MatMul') && model.initializers.has(n.inputs[1]));
    this.lastLayer = layers.at(-1) ?? model.nodes.filter((n) => n.op === 'Conv').at(-1);
  }

  private refuse(n: OnnxNode, message: string): never {
    throw new OnnxImportError(this.model.file, `${n.op} node ${n.name}: ${message}`);
  }

  run(x: Value): Value {
    this.values.set(this.model.input.name, x);
    this.activations.add(x);
    for (const n of this.model.nodes) {
      try {
        this.node(n);
      } catch (e) {
        if (!(e instanceof ShapeError)) throw e;
        const [h, w] = this.model.input.dims.slice(2);
        const resized = (typeof h === 'number' && h !== x.shape[2]) || (typeof w === 'number' && w !== x.shape[3]);
        const hint = resized ? `; the model was exported for ${h}×${w} inputs and gets ${x.shape[2]}×${x.shape[3]}: export it at the data's size` : '';
        this.refuse(n, `${e.message}${hint}`);
      }
    }
    const out = this.values.get(this.model.output.name);
    if (!out || out.shape.length !== 2) {
      throw new OnnxImportError(this.model.file, `the graph output ${this.model.output.name} is ${out ? `[${out.shape}]` : 'not computed'}; the importer takes a classifier whose output is the logits [N, classes]`);
    }
    return out;
  }

  /** An activation (the input or a node's output) or a stored tensor, as a value of the graph. */
  private operand(n: OnnxNode, name: string): Value {
    const v = this.values.get(name);
    if (v) return v;
    const stored = this.model.initializers.get(name);
    if (stored?.dtype === 'float32') {
      // It would be a constant here while the module trains it: refused rather than frozen silently.
      this.refuse(n, `reads the stored tensor ${name}; a parameter outside Conv, BatchNormalization, Gemm and MatMul is not supported (the importer would not train it)`);
    }
    const t = this.statics.get(name) ?? stored;
    if (!t) this.refuse(n, `reads ${name}, which no earlier node computes`);
    const c = this.b.graph.constant(t.data, t.shape, t.dtype);
    this.values.set(name, c);
    return c;
  }

  /** A stored tensor's values (shapes, bounds, ratios), or undefined for an empty (omitted) input. */
  private constant(n: OnnxNode, name: string | undefined): OnnxTensor | undefined {
    if (!name) return undefined;
    const t = this.statics.get(name) ?? this.model.initializers.get(name);
    if (!t) this.refuse(n, `needs ${name} to be a constant, but it is computed in the graph`);
    return t;
  }

  private scalar(n: OnnxNode, name: string | undefined): number | undefined {
    const t = this.constant(n, name);
    if (t && t.data.length !== 1) this.refuse(n, `expects ${name} to be a scalar`);
    return t ? Number(t.data[0]) : undefined;
  }

  /** A parameter: one stored tensor, declared under its name (the state_dict key) at its first use. */
  private param(n: OnnxNode, name: string, decl: Omit<ParamDecl, 'name' | 'shape'>): Value {
    const known = this.values.get(name);
    if (known) return known;
    const t = this.model.initializers.get(name);
    if (!t) this.refuse(n, `its parameter ${name} is computed in the graph, not stored; the importer trains stored parameters only`);
    if (name.startsWith('onnx::')) {
      this.refuse(n, `its parameter ${name} has no state_dict name: the exporter folded BatchNorm into the convolutions (an eval-mode export). Export in training mode: torch.onnx.export(m.train(), x, f, training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)`);
    }
    if (t.dtype !== 'float32') this.refuse(n, `its parameter ${name} is ${t.dtype}, not float32`);
    const v = this.b.param({ name, shape: t.shape, ...decl });
    this.values.set(name, v);
    return v;
  }

  /** Emits the node's IR and records it; `inputs` are the activations it reads. */
  private emit(n: OnnxNode, inputs: Value[], y: Value): void {
    this.b.imported(n.op, n.name, inputs.filter((v) => this.activations.has(v)), y);
    this.activations.add(y);
    this.values.set(n.outputs[0], y);
  }

  /** Refuses explicit-padding alternatives (auto_pad) and the attributes given that are not at their default (`dilations: 1`: every entry 1). */
  private expectDefaults(n: OnnxNode, defaults: Record<string, number>): void {
    if (attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET') this.refuse(n, `auto_pad=${attrString(n, 'auto_pad', '')} is not supported; export with explicit padding (e.g. padding=1, not padding="same")`);
    for (const [key, dflt] of Object.entries(defaults)) {
      const values = n.attrs.get(key)?.type === T.INTS ? attrInts(n, key, []) : [attrInt(n, key, dflt)];
      if (values.some((v) => v !== dflt)) this.refuse(n, `${key}=${values.join(',')} is not supported (only ${dflt})`);
    }
  }

  private node(n: OnnxNode): void {
    const x = () => this.operand(n, n.inputs[0]);
    switch (n.op) {
      case 'Identity':
        this.values.set(n.outputs[0], x());
        return;
      case 'Constant': {
        const a = n.attrs.get('value');
        if (!a || a.type !== T.TENSOR || !a.t) this.refuse(n, 'only a tensor `value` is supported');
        this.statics.set(n.outputs[0], readTensor(this.model.file, a.t, `the value of Constant node ${n.name}`));
        return;
      }
      case 'Dropout': {
        const ratio = this.scalar(n, n.inputs[1]) ?? 0.5;
        const training = (this.scalar(n, n.inputs[2]) ?? 0) !== 0;
        if (training && ratio > 0) {
          this.refuse(n, `dropout (p=${decimal(ratio)}) in training mode is not supported: its random mask is a draw that the PyTorch referee cannot repeat, so the steps could not be checked. Export with the dropout off (p=0, e.g. mobilenet_v2(dropout=0.0))`);
        }
        if (n.outputs[1] && this.model.nodes.some((m) => m.inputs.includes(n.outputs[1]))) this.refuse(n, 'its mask output is used');
        this.values.set(n.outputs[0], x());
        return;
      }
      case 'Conv':
        return this.conv(n);
      case 'BatchNormalization':
        return this.batchNorm(n);
      case 'Relu':
        return this.emit(n, [x()], relu(x()));
      case 'Clip': {
        const min = this.scalar(n, n.inputs[1]);
        const max = this.scalar(n, n.inputs[2]);
        return this.emit(n, [x()], clip(x(), min, max));
      }
      case 'MaxPool': {
        this.expectDefaults(n, { ceil_mode: 0, storage_order: 0, dilations: 1 });
        if (n.outputs[1] && this.model.nodes.some((m) => m.inputs.includes(n.outputs[1]))) this.refuse(n, 'its Indices output is used');
        const [kh, kw] = attrInts(n, 'kernel_shape', []);
        const [sh, sw] = attrInts(n, 'strides', [1, 1]);
        const p = attrInts(n, 'pads', [0, 0, 0, 0]);
        return this.emit(n, [x()], maxPool(x(), { kernel: [kh, kw], strides: [sh, sw], pads: [p[0], p[1], p[2], p[3]] }));
      }
      case 'AveragePool': {
        // The mean over each window is a depthwise conv with a constant kernel of 1/(kh·kw); its gradient is Conv's.
        this.expectDefaults(n, { ceil_mode: 0 });
        const [kh, kw] = attrInts(n, 'kernel_shape', []);
        const [sh, sw] = attrInts(n, 'strides', [1, 1]);
        const p = attrInts(n, 'pads', [0, 0, 0, 0]);
        if (p.some((v) => v !== 0) && attrInt(n, 'count_include_pad', 0) === 0) {
          this.refuse(n, 'padding with count_include_pad=0 (the divisor changes at the border) is not supported; use nn.AvgPool2d(..., count_include_pad=True) or no padding');
        }
        const c = x().shape[1];
        const kernel = this.b.graph.constant(new Float32Array(c * kh * kw).fill(1 / (kh * kw)), [c, 1, kh, kw], x().dtype);
        return this.emit(n, [x()], convolve(x(), kernel, { strides: [sh, sw], pads: [p[0], p[1], p[2], p[3]], group: c }));
      }
      case 'GlobalAveragePool':
        return this.emit(n, [x()], reduceMean(x(), [2, 3], true));
      case 'Flatten': {
        const shape = x().shape;
        const axis = (attrInt(n, 'axis', 1) + shape.length) % shape.length;
        const size = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
        return this.emit(n, [x()], reshape(x(), [size(shape.slice(0, axis)), size(shape.slice(axis))]));
      }
      case 'Reshape':
        return this.reshape(n);
      case 'Gemm':
      case 'MatMul':
        return this.linear(n);
      case 'Add':
      case 'Mul': {
        const [a, b] = n.inputs.map((name) => this.operand(n, name));
        return this.emit(n, [a, b], n.op === 'Add' ? add(a, b) : mul(a, b));
      }
      case 'Concat': {
        const xs = n.inputs.map((name) => this.operand(n, name));
        return this.emit(n, xs, concat(xs, attrInt(n, 'axis', 0)));
      }
      default:
        this.refuse(n, 'op not supported'); // readOnnxModel lists these before any node is imported
    }
  }

  private conv(n: OnnxNode): void {
    this.expectDefaults(n, {});
    const [xName, wName, biasName] = n.inputs;
    const x = this.operand(n, xName);
    const stored = this.model.initializers.get(wName);
    if (stored && stored.shape.length !== 4) this.refuse(n, `weight ${wName} has shape [${stored.shape}]; only 2-D convolutions (weights [M, C/group, kh, kw]) are supported`);
    const fanIn = stored ? stored.shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    const w = this.param(n, wName, this.layerDecl(n, fanIn, 'conv'));
    const [sh, sw] = attrInts(n, 'strides', [1, 1]);
    const [dh, dw] = attrInts(n, 'dilations', [1, 1]);
    const p = attrInts(n, 'pads', [0, 0, 0, 0]);
    let y = convolve(x, w, { strides: [sh, sw], pads: [p[0], p[1], p[2], p[3]], dilations: [dh, dw], group: attrInt(n, 'group', 1) });
    if (biasName) y = add(y, reshape(this.param(n, biasName, this.layerDecl(n, fanIn, 'conv')), [1, w.shape[0], 1, 1]));
    this.emit(n, [x], y);
  }

  private batchNorm(n: OnnxNode): void {
    const [xName, scaleName, biasName, meanName, varName] = n.inputs;
    const x = this.operand(n, xName);
    const prefix = meanName.replace(/\.running_mean$/, '');
    if (!meanName.endsWith('.running_mean') || varName !== `${prefix}.running_var`) {
      this.refuse(n, `its running statistics are ${meanName} and ${varName}, not <name>.running_mean and <name>.running_var as a torch BatchNorm's state_dict has them; export the module in training mode with do_constant_folding=False`);
    }
    const { eps, momentum } = bnSettings(n);
    if (momentum !== this.spec.bnMomentum) this.refuse(n, `momentum ${momentum} differs from the other BatchNorm layers' ${this.spec.bnMomentum}; the running statistics take one momentum`);
    const affine = { init: { kind: 'fill', value: 1 } as Init, trainable: this.spec.affine, kind: 'norm' as const };
    const weight = this.param(n, scaleName, affine);
    const bias = this.param(n, biasName, { ...affine, init: { kind: 'fill', value: 0 } });
    this.emit(n, [x], batchNormLayer(this.b, prefix, x, eps, { weight, bias }));
  }

  private reshape(n: OnnxNode): void {
    const x = this.operand(n, n.inputs[0]);
    if (attrInt(n, 'allowzero', 0) !== 0) this.refuse(n, 'allowzero=1 is not supported');
    const target = this.constant(n, n.inputs[1]);
    if (!target || target.dtype !== 'int64') this.refuse(n, 'needs a constant int64 shape');
    const exportBatch = this.model.input.dims[0];
    // 0 copies the input's dim; a first dim equal to the export's batch size is the batch (a shape written by x.view(N, -1) with N fixed at export).
    const dims = Array.from(target.data as BigInt64Array, (d, i) => (d === 0n ? x.shape[i] : i === 0 && Number(d) === exportBatch ? x.shape[0] : Number(d)));
    const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const shape = dims.map((d) => (d === -1 ? x.size / known : d));
    this.emit(n, [x], reshape(x, shape));
  }

  /** Gemm (alpha = beta = 1, A not transposed) and MatMul with a stored weight: linear layers; or MatMul of two activations. */
  private linear(n: OnnxNode): void {
    const [aName, bName, cName] = n.inputs;
    const a = this.operand(n, aName);
    if (n.op === 'Gemm') {
      if (attrFloat(n, 'alpha', 1) !== 1 || attrFloat(n, 'beta', 1) !== 1 || attrInt(n, 'transA', 0) !== 0) this.refuse(n, 'only alpha = beta = 1 and transA = 0 are supported (nn.Linear exports so)');
    }
    const transB = attrInt(n, 'transB', 0) === 1;
    const stored = this.model.initializers.get(bName);
    const decl = this.layerDecl(n, stored ? stored.shape[transB ? 1 : 0] : 1, 'linear');
    const weight = stored ? this.param(n, bName, decl) : this.operand(n, bName);
    if (n.op === 'MatMul') return this.emit(n, [a, weight], matmul(a, weight));
    const c = cName ? (this.model.initializers.has(cName) ? this.param(n, cName, decl) : this.operand(n, cName)) : undefined;
    this.emit(n, [a, weight], gemm(a, weight, { transB }, c));
  }

  /**
   * A conv's or linear layer's weight and bias: torch.nn's default U(±1/√fan_in), times fcScale for
   * the last layer (as the zoo's fc), which --si freezes.
   */
  private layerDecl(n: OnnxNode, fanIn: number, kind: 'conv' | 'linear'): Omit<ParamDecl, 'name' | 'shape'> {
    const last = n === this.lastLayer;
    return { init: uniform(fanIn, last ? this.spec.fcScale : 1), trainable: !(last && this.spec.frozenFc), kind };
  }
}

function importedForward(b: LayerBuilder, spec: ImportedSpec, x: Value): Value {
  return new Importer(b, spec, importedModel(spec)).run(x);
}

export const IMPORTED: ModelEntry<ImportedSpec> = {
  arch: 'onnx',
  help: 'path/to/net.onnx (a network exported by torch.onnx.export; --si for its fully scale-invariant variant)',
  parse(name, overrides) {
    if (!isImportedName(name)) return undefined;
    const model = loadFile(name);
    const [, channels, h, w] = model.input.dims;
    const [, classes] = model.output.dims;
    if (typeof channels !== 'number' && overrides.inChannels === undefined) {
      throw new OnnxImportError(name, `the input's channels are dynamic (${channels}); give the input shape (--input C,H,W, or a data set)`);
    }
    const inChannels = overrides.inChannels ?? (channels as number);
    if (typeof channels === 'number' && channels !== inChannels) {
      throw new OnnxImportError(name, `the model takes ${channels} input channels, the data has ${inChannels}: choose a data set with ${channels} channels, or export the model with a first conv of ${inChannels} (e.g. m.conv1 = nn.Conv2d(${inChannels}, ...))`);
    }
    if (typeof classes !== 'number') throw new OnnxImportError(name, `the output's classes are dynamic (${classes}); export a classifier with a fixed number of classes`);
    if (overrides.numClasses !== undefined && overrides.numClasses !== classes) {
      throw new OnnxImportError(name, `the model outputs ${classes} classes, the data set has ${overrides.numClasses}: export it with num_classes=${overrides.numClasses}, or choose a data set with ${classes} classes`);
    }
    const norms = model.nodes.filter((n) => n.op === 'BatchNormalization').map(bnSettings);
    const si = overrides.si ?? false;
    const spec: ImportedSpec = {
      arch: 'onnx',
      file: name,
      sha256: model.sha256,
      inChannels,
      numClasses: classes,
      norm: { kind: 'batch' },
      affine: !si,
      frozenFc: si,
      fcScale: overrides.fcScale ?? (si ? 10 : 1),
      bnEps: norms[0]?.eps ?? 1e-5,
      bnMomentum: norms[0]?.momentum ?? 0.1,
    };
    // A trial import at the exported size, so that a node the importer refuses is named now, before a run writes anything.
    if (typeof h === 'number' && typeof w === 'number') traceImported(spec, [inChannels, h, w]);
    return spec;
  },
  name: (s) => `${basename(s.file, '.onnx')}${s.frozenFc ? '-si' : ''}`,
  forward: importedForward,
};

/** Builds the train-mode graph once, for its errors. */
function traceImported(spec: ImportedSpec, input: [number, number, number]): void {
  const b = new LayerBuilder(new Graph('import'), spec, 'train');
  importedForward(b, spec, b.graph.input('input', [2, ...input]));
}
