/** Exports of a checkpoint: the PyTorch state_dict, and a standalone ONNX inference model. */
import { serialize } from '../graph/onnx';
import { TensorMap } from '../graph/tensors';
import { readSafetensors } from '../io/safetensors';
import { InputShape } from '../nn/model';
import { ModelSpec } from '../nn/spec';
import { inferenceGraph } from '../programs/programs';
import { FORMAT, stateDictOnly } from './checkpoint';

function readModelFile(file: string): { tensors: TensorMap; metadata: Record<string, string>; spec: ModelSpec } {
  const { tensors, metadata } = readSafetensors(file);
  if (!metadata.model) throw new Error(`${file}: no model description in its metadata; is it an intrinsic-lr checkpoint?`);
  return { tensors, metadata, spec: JSON.parse(metadata.model) };
}

export function exportStateDict(file: string): { tensors: TensorMap; metadata: Record<string, string> } {
  const { tensors, metadata } = readModelFile(file);
  return { tensors: stateDictOnly(tensors), metadata: { format: `${FORMAT}/state_dict`, model: metadata.model, architecture: metadata.architecture ?? '', model_name: metadata.model_name ?? '' } };
}

/** The inference graph with the checkpoint's weights embedded; the input size defaults to the data's (32×32 RGB, 28×28 gray). */
export function exportOnnx(file: string, batch: number, input?: InputShape): Uint8Array {
  const { tensors, spec } = readModelFile(file);
  const shape: InputShape = input ?? (spec.inChannels === 1 ? [1, 28, 28] : [spec.inChannels, 32, 32]);
  return serialize(inferenceGraph({ spec, batch, input: shape }, tensors));
}
