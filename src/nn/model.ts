/** A model: its spec, its forward pass, and the parameter and buffer lists that pass declares. */
import { Graph, Value } from '../graph/ir';
import { homogeneity } from './invariance';
import { Architecture, LayerBuilder, ParamDecl, TensorInfo } from './layers';
import { ModelSpec, modelEntry } from './spec';

export type InputShape = [number, number, number];

/** Emits the forward pass into `b`'s graph; returns the logits. */
export function forward(b: LayerBuilder, x: Value): Value {
  const spec = b.spec;
  if (x.shape[1] !== spec.inChannels) {
    throw new Error(`model expects ${spec.inChannels} input channels, the data has ${x.shape[1]} (set inChannels to match the data set)`);
  }
  if (Math.min(x.shape[2], x.shape[3]) < 8) throw new Error(`input ${x.shape.slice(1).join('×')} is too small: at least 8×8`);
  return modelEntry(spec).forward(b, spec, x);
}

export interface ParamInfo extends ParamDecl {
  /** In the model's jointly scale-invariant group: scaling all of them together leaves the loss unchanged (up to the norms' ε). */
  scaleInvariant: boolean;
  /** Scaling this tensor alone leaves the loss unchanged: its own angular update and norm are meaningful on their own. */
  scaleInvariantAlone: boolean;
}

export interface ModelLayout {
  params: ParamInfo[];
  buffers: TensorInfo[];
  /** The forward pass as data, for the PyTorch referee. */
  architecture: Architecture;
}

/**
 * The parameters and buffers of a model, in forward order, with the weights its norm layers make
 * scale-invariant, and its architecture (a throwaway train-mode graph is traced for them). The
 * jointly invariant group is every conv weight when they are jointly invariant, and otherwise
 * the weights that are invariant alone.
 */
export function modelLayout(spec: ModelSpec, input: InputShape): ModelLayout {
  const graph = new Graph('layout');
  const b = new LayerBuilder(graph, spec, 'train');
  const x = graph.input('input', [2, ...input]);
  const logits = forward(b, x);
  const trainable = b.params.filter((p) => p.trainable);
  const invariant = (names: readonly ParamDecl[]) => homogeneity(graph, logits, new Set(names.map((p) => b.value(p.name)))) === 0;
  const alone = new Set(trainable.filter((p) => invariant([p])).map((p) => p.name));
  const convs = trainable.filter((p) => p.kind === 'conv');
  const group = convs.length > 0 && invariant(convs) ? new Set(convs.map((p) => p.name)) : alone;
  return {
    params: b.params.map((p) => ({ ...p, scaleInvariant: group.has(p.name), scaleInvariantAlone: alone.has(p.name) })),
    buffers: b.buffers,
    architecture: b.architecture(x, logits),
  };
}

/** How a safetensors file names its model: the spec, which this side checks, and the architecture, from which the PyTorch referee builds its twin. */
export function modelMetadata(layout: ModelLayout): { model: string; architecture: string } {
  return { model: JSON.stringify(layout.architecture.model), architecture: JSON.stringify(layout.architecture) };
}
