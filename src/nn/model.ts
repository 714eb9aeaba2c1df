/** A model: its spec, its forward pass, and the parameter and buffer lists that pass declares. */
import { Graph, Value } from '../graph/ir';
import { cnn4 } from './cnn4';
import { LayerBuilder, ParamInfo, TensorInfo } from './layers';
import { preResNet } from './preresnet';
import { ModelSpec } from './spec';

export type InputShape = [number, number, number];

/** Emits the forward pass into `b`'s graph; returns the logits. */
export function forward(b: LayerBuilder, x: Value): Value {
  const spec = b.spec;
  if (x.shape[1] !== spec.inChannels) {
    throw new Error(`model expects ${spec.inChannels} input channels, the data has ${x.shape[1]} (set inChannels to match the data set)`);
  }
  if (Math.min(x.shape[2], x.shape[3]) < 8) throw new Error(`input ${x.shape.slice(1).join('×')} is too small: at least 8×8`);
  return spec.arch === 'preresnet' ? preResNet(b, spec, x) : cnn4(b, spec, x);
}

export interface ModelLayout {
  params: ParamInfo[];
  buffers: TensorInfo[];
}

/** The parameters and buffers of a model, in forward order (a throwaway graph is traced for them). */
export function modelLayout(spec: ModelSpec, input: InputShape): ModelLayout {
  const b = new LayerBuilder(new Graph('layout'), spec, 'eval');
  forward(b, b.graph.input('input', [2, ...input]));
  return { params: b.params, buffers: b.buffers };
}
