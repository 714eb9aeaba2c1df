/**
 * The small normalized CNN of the fast-equilibrium experiment: three conv → norm → ReLU layers
 * (the second and third with stride 2), global average pooling, and a linear layer — four layers
 * with weights. Every conv feeds a norm layer, so each conv weight is scale-invariant on its own.
 */
import { Value } from '../graph/ir';
import { LayerBuilder } from './layers';
import { Cnn4Spec } from './spec';

export function cnn4(b: LayerBuilder, spec: Cnn4Spec, x: Value): Value {
  let h = x;
  spec.widths.forEach((width, i) => {
    h = b.relu(b.norm(`bn${i + 1}`, b.conv(`conv${i + 1}`, h, width, 3, i === 0 ? 1 : 2, 1)));
  });
  return b.linear('fc', b.globalAvgPool(h), spec.numClasses);
}
