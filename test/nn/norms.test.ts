/**
 * Norm layers as data: preset names, the parameters each layer declares, the weights it makes
 * scale-invariant (read off the graph, checked here against the loss itself), and the
 * architecture the PyTorch twin is built from.
 */
import { feedsOf, randomBatch } from '../../src/runtime/sample';
import { Graph } from '../../src/graph/ir';
import { TensorMap } from '../../src/graph/tensors';
import { initialState } from '../../src/nn/init';
import { LayerBuilder } from '../../src/nn/layers';
import { InputShape, modelLayout } from '../../src/nn/model';
import { modelSpec, specName } from '../../src/nn/spec';
import { relu } from '../../src/ops/elementwise';
import { gradientGraph } from '../../src/programs/programs';
import { Program } from '../../src/runtime/session';
import { Rng } from '../../src/util/rng';

const INPUT: InputShape = [3, 16, 16];

describe('preset names', () => {
  it.each([
    ['cnn4', { kind: 'batch' }],
    ['preresnet20-gn-si', { kind: 'group', groups: 8 }],
    ['preresnet20-w2-gn16', { kind: 'group', groups: 16 }],
    ['cnn4-ln', { kind: 'layer' }],
    ['cnn4-w2-ln-si', { kind: 'layer' }],
  ])('%s', (name, norm) => {
    const spec = modelSpec(name);
    expect(spec.norm).toEqual(norm);
    expect(specName(spec)).toBe(name);
  });
  it('unknown tags and group counts that do not divide a width are refused, with what to do', () => {
    expect(() => modelSpec('cnn4-xx')).toThrow(/unknown model "cnn4-xx".*gn\[\{G\}\] = GroupNorm/);
    expect(() => modelLayout(modelSpec('preresnet8-gn3'), INPUT)).toThrow(/conv1|bn1: GroupNorm with 3 groups cannot split 16 channels; choose a number of groups that divides every width/);
  });
});

describe('parameters and buffers', () => {
  const names = (model: string) => {
    const l = modelLayout(modelSpec(model), INPUT);
    return { params: l.params.map((p) => `${p.name}[${p.shape}]`), buffers: l.buffers.map((b) => b.name) };
  };
  it('BatchNorm has running statistics; GroupNorm and LayerNorm have none', () => {
    expect(names('cnn4').buffers).toContain('bn1.running_var');
    expect(names('cnn4-gn').buffers).toEqual([]);
    expect(names('cnn4-ln').buffers).toEqual([]);
  });
  it('affine parameters are per channel for GroupNorm, per element of (C,H,W) for LayerNorm, absent with -si', () => {
    expect(names('cnn4-gn').params).toContain('bn2.weight[64]');
    expect(names('cnn4-ln').params).toContain('bn2.weight[64,8,8]');
    expect(names('cnn4-ln-si').params).toEqual(['conv1.weight[32,3,3,3]', 'conv2.weight[64,32,3,3]', 'conv3.weight[128,64,3,3]', 'fc.weight[10,128]', 'fc.bias[10]']);
  });
});

describe('the weights the norm layers make scale-invariant', () => {
  const flags = (model: string) => {
    const trained = modelLayout(modelSpec(model), INPUT).params.filter((p) => p.trainable);
    return { joint: trained.filter((p) => p.scaleInvariant).map((p) => p.name), alone: trained.filter((p) => p.scaleInvariantAlone).map((p) => p.name) };
  };
  it('cnn4: every conv, alone and jointly; norm and linear parameters not', () => {
    for (const m of ['cnn4', 'cnn4-gn', 'cnn4-ln-si']) expect(flags(m)).toEqual({ joint: ['conv1.weight', 'conv2.weight', 'conv3.weight'], alone: ['conv1.weight', 'conv2.weight', 'conv3.weight'] });
  });
  it('preresnet: every conv jointly; alone only each block\'s first conv (the others feed a residual sum)', () => {
    for (const m of ['preresnet8', 'preresnet8-gn-si', 'preresnet8-ln']) {
      const f = flags(m);
      expect(f.joint).toEqual(['conv1.weight', 'layer1.0.conv1.weight', 'layer1.0.conv2.weight', 'layer2.0.conv1.weight', 'layer2.0.conv2.weight', 'layer2.0.downsample.0.weight',
        'layer3.0.conv1.weight', 'layer3.0.conv2.weight', 'layer3.0.downsample.0.weight']);
      expect(f.alone).toEqual(['layer1.0.conv1.weight', 'layer2.0.conv1.weight', 'layer3.0.conv1.weight']);
    }
  });

  // The analysis against the network itself: the logits stay the same when a weight it marks alone
  // is doubled, and move for every other one. γ and β are drawn away from 1 and 0 first, where
  // they would look invariant by accident, and ε is made negligible (it is what breaks the invariance).
  it.each(['preresnet8-gn', 'preresnet8-ln-si', 'cnn4-gn4'])('%s: doubling one weight moves the logits exactly when it is not marked', async (model) => {
    const spec = modelSpec(model, { bnEps: 1e-12 });
    const layout = modelLayout(spec, INPUT);
    const rng = new Rng(['norm-invariance', model]);
    const state = initialState(layout, rng.fork('init'));
    for (const p of layout.params.filter((q) => q.kind === 'norm')) (state.get(p.name)!.data as Float32Array).forEach((_, i, a) => { a[i] = 0.5 + rng.uniform(); });
    const batch = randomBatch(rng.fork('data'), 8, INPUT, spec.numClasses);
    const program = await Program.create(gradientGraph({ spec, batch: 8, input: INPUT }), { threads: 1 });
    const logitsAt = async (name?: string) => {
      const scaled: TensorMap = new Map([...state].map(([k, v]) => [k, k === name ? { ...v, data: (v.data as Float32Array).map((x) => 2 * x) } : v]));
      return (await program.run({ ...feedsOf(scaled), ...batch }, ['logits'])).logits as Float32Array;
    };
    const base = await logitsAt();
    const relChange = (y: Float32Array) => Math.sqrt(y.reduce((s, v, i) => s + (v - base[i]) ** 2, 0) / base.reduce((s, v) => s + v * v, 0));
    const moved: Record<string, boolean> = {};
    const expected: Record<string, boolean> = {};
    for (const p of layout.params.filter((q) => q.trainable)) {
      const change = relChange(await logitsAt(p.name));
      expect(change < 1e-5 || change > 1e-3).toBe(true); // clearly one or the other
      moved[p.name] = change > 1e-3;
      expected[p.name] = !p.scaleInvariantAlone;
    }
    await program.release();
    expect(moved).toEqual(expected);
  });
});

describe('the architecture the PyTorch twin is built from', () => {
  it('names a module for every parameter prefix, with torch.nn\'s arguments', () => {
    const layout = modelLayout(modelSpec('preresnet8-gn4'), INPUT);
    const steps = layout.architecture.steps;
    const modules = new Set(steps.filter((s) => s.name).map((s) => s.name));
    for (const p of layout.params) expect(modules.has(p.name.slice(0, p.name.lastIndexOf('.')))).toBe(true);
    expect(steps.find((s) => s.name === 'layer1.0.bn2')).toMatchObject({ call: 'GroupNorm', args: { num_groups: 4, num_channels: 16, eps: 1e-5, affine: true } });
    expect(steps.find((s) => s.name === 'fc')).toMatchObject({ call: 'Linear', args: { in_features: 64, out_features: 10 } });
    expect(steps.filter((s) => s.call === 'add')).toHaveLength(3);
  });
  it('refuses a forward pass that applies an op outside the builder: the twin would miss it', () => {
    const graph = new Graph('outside');
    const b = new LayerBuilder(graph, modelSpec('cnn4'), 'train');
    const x = graph.input('input', [2, 3, 8, 8]);
    const y = b.conv('conv1', relu(b.conv('conv0', x, 4, 3, 1, 1)), 4, 3, 1, 1);
    expect(() => b.architecture(x, y)).toThrow(/step Conv2d \(conv1\) reads a value made outside the LayerBuilder/);
  });
});
