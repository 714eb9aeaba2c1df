/**
 * The small normalized CNN of the fast-equilibrium experiment: three conv → norm → ReLU layers
 * (the second and third with stride 2), global average pooling, and a linear layer — four layers
 * with weights. Every conv feeds a norm layer, so each conv weight is scale-invariant on its own.
 */
import { Value } from '../graph/ir';
import { CommonSpec, ModelEntry, parsePreset, presetSuffix } from './entry';
import { LayerBuilder } from './layers';

export interface Cnn4Spec extends CommonSpec {
  arch: 'cnn4';
  widths: [number, number, number];
}

function cnn4(b: LayerBuilder, spec: Cnn4Spec, x: Value): Value {
  let h = x;
  spec.widths.forEach((width, i) => {
    h = b.relu(b.norm(`bn${i + 1}`, b.conv(`conv${i + 1}`, h, width, 3, i === 0 ? 1 : 2, 1)));
  });
  return b.linear('fc', b.globalAvgPool(h), spec.numClasses);
}

export const CNN4: ModelEntry<Cnn4Spec> = {
  arch: 'cnn4',
  help: 'cnn4[-w{K}][-NORM][-si]',
  parse(name, overrides) {
    const p = parsePreset(name, 'cnn4', overrides);
    if (!p) return undefined;
    return { arch: 'cnn4', widths: overrides.widths ?? [32 * p.width, 64 * p.width, 128 * p.width], ...p.common };
  },
  name: (s) => `cnn4${s.widths[0] !== 32 ? `-w${s.widths[0] / 32}` : ''}${presetSuffix(s)}`,
  forward: cnn4,
};
