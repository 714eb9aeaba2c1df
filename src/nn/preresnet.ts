/**
 * The CIFAR PreResNet of He et al. 2016 (pre-activation BasicBlocks, widths 16/32/64 × k), as in
 * timgaripov/swa's models/preresnet.py, except that a projection shortcut takes the pre-activated
 * input (as kuangliu's PreActResNet does): then every conv weight is in front of a norm layer and
 * the conv weights are jointly scale-invariant. Alone, only each block's first conv is: the others
 * feed a residual sum.
 */
import { Value } from '../graph/ir';
import { CommonSpec, ModelEntry, parsePreset, presetSuffix } from './entry';
import { LayerBuilder } from './layers';

export interface PreResNetSpec extends CommonSpec {
  arch: 'preresnet';
  depth: number;
  width: number;
}

function basicBlock(b: LayerBuilder, name: string, x: Value, planes: number, stride: number): Value {
  const a = b.relu(b.norm(`${name}.bn1`, x));
  let out = b.conv(`${name}.conv1`, a, planes, 3, stride, 1);
  out = b.conv(`${name}.conv2`, b.relu(b.norm(`${name}.bn2`, out)), planes, 3, 1, 1);
  const projected = stride !== 1 || x.shape[1] !== planes;
  const shortcut = projected ? b.conv(`${name}.downsample.0`, a, planes, 1, stride, 0) : x;
  return b.add(out, shortcut);
}

function preResNet(b: LayerBuilder, spec: PreResNetSpec, x: Value): Value {
  const blocks = (spec.depth - 2) / 6;
  const widths = [16, 32, 64].map((w) => w * spec.width);
  let h = b.conv('conv1', x, widths[0], 3, 1, 1);
  widths.forEach((planes, stage) => {
    for (let i = 0; i < blocks; i++) {
      h = basicBlock(b, `layer${stage + 1}.${i}`, h, planes, stage > 0 && i === 0 ? 2 : 1);
    }
  });
  h = b.relu(b.norm('bn', h));
  return b.linear('fc', b.globalAvgPool(h), spec.numClasses);
}

export const PRERESNET: ModelEntry<PreResNetSpec> = {
  arch: 'preresnet',
  help: 'preresnet{D}[-w{K}][-NORM][-si] with D = 6n+2 (8, 14, 20, 32, 56, 110) and width multiplier K',
  parse(name, overrides) {
    const p = parsePreset(name, 'preresnet(\\d+)', overrides);
    if (!p) return undefined;
    if (overrides.widths) throw new Error(`model "${name}": conv widths can be set for cnn4 models only (PreResNet widths come from -w{K})`);
    const depth = Number(p.groups[0]);
    if ((depth - 2) % 6 !== 0 || depth < 8) throw new Error(`model "${name}": PreResNet depth must be 6n+2 with n ≥ 1 (8, 14, 20, 32, 56, 110)`);
    return { arch: 'preresnet', depth, width: p.width, ...p.common };
  },
  name: (s) => `preresnet${s.depth}${s.width !== 1 ? `-w${s.width}` : ''}${presetSuffix(s)}`,
  forward: preResNet,
};
