/**
 * Tensors on the host by name: a model's state (`state_dict` names, optimizer slots), a program's
 * feeds and fetches, a checkpoint's contents. Every layer that holds state uses this type, so it
 * sits here, below them all, next to the dtypes it is made of.
 */
import { DType, TypedArray } from './ir';

export interface NamedTensor {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}
export type TensorMap = Map<string, NamedTensor>;
