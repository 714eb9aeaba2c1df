/** Seeded initialisation with PyTorch's default distributions (the values differ from torch's RNG; the distributions match). */
import { TensorMap } from '../graph/tensors';
import { ModelLayout } from './model';
import { Init, TensorInfo } from './layers';

export interface UniformSource {
  /** A uniform draw in [0, 1). */
  uniform(): number;
}

function fill(info: TensorInfo, rng: UniformSource): Float32Array {
  const size = info.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  const init: Init = info.init;
  if (init.kind === 'fill') out.fill(init.value);
  else for (let i = 0; i < size; i++) out[i] = (2 * rng.uniform() - 1) * init.bound;
  return out;
}

/** Every parameter and buffer of a model, initialised in forward order from one generator. */
export function initialState(layout: ModelLayout, rng: UniformSource): TensorMap {
  const state: TensorMap = new Map();
  for (const info of [...layout.params, ...layout.buffers]) state.set(info.name, { dtype: 'float32', shape: info.shape, data: fill(info, rng) });
  return state;
}
