/** The bench table's arithmetic and layout (no timing here: the numbers are made up). */
import { SideResult } from '../../src/bench/ours';
import { median } from '../../src/util/stats';
import { formatGap, formatProfile, gapByCategory, nodeGroups, ourCategory, summarizeByShape, summarizeProfile, torchCategory } from '../../src/bench/profile';
import { gradients } from '../../src/autodiff/engine';
import { Graph } from '../../src/graph/ir';
import { conv } from '../../src/ops/conv';
import { reduceSum } from '../../src/ops/reduce';
import { combineRounds, formatTable, ratios, speedRounds } from '../../src/bench/table';
import { runTorchChild } from '../../src/bench/sides';
import { itTorch } from '../helpers';

const side = (ms: number, peak: number, extra: Partial<SideResult> = {}): SideResult => ({
  images_per_s: (128 * 1000) / ms, ms_per_step: ms, ms_per_step_min: ms - 1, ms_per_step_max: ms + 1, peak_rss_mb: peak, threads: 2, ...extra,
});

describe('bench table', () => {
  it('median of odd and even lists', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('combines rounds: median step time, largest peak, throughput from the combined time', () => {
    const c = combineRounds(128, [side(400, 500), side(600, 450), side(500, 480)]);
    expect(c.ms_per_step).toBe(500);
    expect(c.images_per_s).toBeCloseTo(256);
    expect(c.peak_rss_mb).toBe(500);
    expect(c.ms_per_step_min).toBe(399);
    expect(c.ms_per_step_max).toBe(601);
    expect(() => combineRounds(128, [])).toThrow(/no rounds/);
  });

  it('ratios are ours over PyTorch, for speed and for memory', () => {
    const r = ratios({ model: 'm', input: [3, 32, 32], batch: 128, threads: 2, ours: side(500, 400), torch: side(250, 800) })!;
    expect(r.speed).toBeCloseTo(0.5);
    expect(r.memory).toBeCloseTo(0.5);
    expect(ratios({ model: 'm', input: [3, 32, 32], batch: 128, threads: 2, ours: side(500, 400) })).toBeUndefined();
  });

  it('the speed ratio is the median of the rounds, each round pairing ours with the PyTorch run after it', () => {
    // The machine slows down in round 2 for both sides: the pairs keep their ratio, the medians of
    // each side would not (250 / 400 = 0.625 here against the pairs' 0.5).
    const ours = [side(200, 400), side(800, 400), side(400, 400)];
    const torch = [side(100, 800), side(400, 800), side(250, 800)];
    const rounds = speedRounds(ours, torch);
    expect(rounds.map((r) => +r.toFixed(3))).toEqual([0.5, 0.5, 0.625]);
    const row = { model: 'm', input: [3, 32, 32], batch: 128, threads: 2, ours: combineRounds(128, ours), torch: combineRounds(128, torch), speedRounds: rounds };
    expect(ratios(row)!.speed).toBeCloseTo(0.5);
    expect(formatTable([row]).split('\n')[2].split(/\s+/).slice(-3)).toEqual(['0.50', '0.50–0.63', '0.50']);
    expect(() => speedRounds(ours, torch.slice(1))).toThrow(/3 rounds of ours against 2/);
  });

  it('prints one aligned row per model, with the PyTorch columns only when measured', () => {
    const rows = [
      { model: 'preresnet20', input: [3, 32, 32], batch: 128, threads: 2, ours: side(500, 460), torch: side(250, 640) },
      { model: 'cnn4', input: [1, 28, 28], batch: 128, threads: 2, ours: side(100, 300), torch: side(200, 600) },
    ];
    const lines = formatTable(rows).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^model\s+input\s+batch\s+threads\s+ours img\/s\s+ms\/step\s+peak MB\s+torch img\/s\s+ms\/step\s+peak MB\s+speed ours\/torch\s+rounds\s+mem ours\/torch$/);
    expect(lines[2].split(/\s+/)).toEqual(['preresnet20', '3x32x32', '128', '2', '256', '500.0', '460', '512', '250.0', '640', '0.50', '-', '0.72']);
    expect(lines[3].split(/\s+/)).toEqual(['cnn4', '1x28x28', '128', '2', '1280', '100.0', '300', '640', '200.0', '600', '2.00', '-', '0.50']);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1); // right-aligned columns end together
    const oursOnly = formatTable([{ ...rows[0], torch: undefined }]).split('\n');
    expect(oursOnly[0]).not.toMatch(/torch/);
  });

  it('profile: kernel time per group and per step, skipping warm-up runs', () => {
    const events = [
      { name: 'model_run', ts: 0 },
      { cat: 'Node', name: 'Conv_1_kernel_time', ts: 1, dur: 5000, args: { op_name: 'Conv' } },
      { name: 'model_run', ts: 100 },
      { cat: 'Node', name: 'Conv_1_kernel_time', ts: 101, dur: 2000, args: { op_name: 'Conv' } },
      { cat: 'Node', name: 'Mul_2_kernel_time', ts: 102, dur: 1000, args: { op_name: 'Mul' } },
      { cat: 'Node', name: 'Mul_2_fence_before', ts: 102, dur: 9, args: { op_name: 'Mul' } },
      { name: 'model_run', ts: 200 },
      { cat: 'Node', name: 'Conv_1_kernel_time', ts: 201, dur: 4000, args: { op_name: 'Conv' } },
    ];
    const lines = summarizeProfile(events, new Map([['Conv_1', 'Conv (forward)']]), 1);
    expect(lines.map((l) => [l.group, l.ms, l.nodes])).toEqual([['Conv (forward)', 3, 1], ['Mul', 0.5, 1]]);
    expect(lines[0].share).toBeCloseTo(6 / 7);
  });

  it('profile by shape: the same kernel split by its tensors, and a limit that sums the rest into one row', () => {
    const conv = (name: string, ts: number, dur: number, n: number) => ({
      cat: 'Node', name: `${name}_kernel_time`, ts, dur, args: { op_name: 'Conv', input_type_shape: [{ float: [n, 16, 32, 32] }, { float: [16, 16, 3, 3] }], output_type_shape: [{ float: [n, 16, 32, 32] }] },
    });
    const events = [{ name: 'model_run', ts: 0 }, conv('Conv_1', 1, 3000, 128), conv('Conv_2', 2, 1000, 128), conv('Conv_3', 3, 500, 8)];
    const lines = summarizeByShape(events, new Map([['Conv_1', 'Conv (input grad)'], ['Conv_2', 'Conv (forward)'], ['Conv_3', 'Conv (forward)']]));
    expect(lines.map((l) => [l.group, l.ms])).toEqual([
      ['Conv (input grad)  128x16x32x32, 16x16x3x3 -> 128x16x32x32', 3],
      ['Conv (forward)  128x16x32x32, 16x16x3x3 -> 128x16x32x32', 1],
      ['Conv (forward)  8x16x32x32, 16x16x3x3 -> 8x16x32x32', 0.5],
    ]);
    const text = formatProfile(lines, 1).split('\n');
    expect(text).toHaveLength(3);
    expect(text[1]).toMatch(/^\(2 more\)\s+1\.5 ms\s+33\.3 %\s+2 nodes$/);
    expect(text[2]).toMatch(/^total \(kernels\)\s+4\.5 ms$/);
  });

  // On a 1×1 image the forward conv's kernel is cut to its centre tap (ops/conv.ts convolve).
  it.each([8, 1])('profile groups tell forward, input-gradient and weight-gradient convs apart, blocked or plain (images of side %i)', (size) => {
    const g = new Graph('groups');
    const x = g.input('x', [16, 16, size, size]);
    const w = g.input('w', [16, 16, 3, 3]);
    const loss = reduceSum(conv(x, w, { pad: 1 }));
    const grads = gradients(loss, [x, w]);
    g.output('loss', loss);
    g.output('dx', grads.get(x)!);
    g.output('dw', grads.get(w)!);
    const roles = (nchwcBlock: number) => new Set(nodeGroups(g, { nchwcBlock }).values());
    for (const group of ['Conv (forward)', 'Conv (input grad)', 'Conv (conv weight grad)', 'ReorderInput (conv weight grad)']) expect(roles(16)).toContain(group);
    for (const group of ['Conv (forward)', 'Conv (input grad)', 'Gemm (conv weight grad)']) expect(roles(0)).toContain(group);
  });

  it('sorts both profilers into the same parts of the step', () => {
    expect(ourCategory('Conv (forward)')).toBe('conv forward');
    for (const g of ['Conv (input grad)', 'ConvTranspose (input grad)', 'Conv (conv weight grad)', 'Transpose (conv weight grad)', 'ReorderInput (conv weight grad)']) {
      expect(ourCategory(g)).toBe('conv backward (input + weight grad)');
    }
    expect(ourCategory('ReorderOutput')).toBe('NCHWc reorders');
    expect(ourCategory('Mul')).toBe('the rest (BN, ReLU, adds, loss, SGD)');
    expect(torchCategory('aten::mkldnn_convolution')).toBe('conv forward');
    expect(torchCategory('aten::convolution_backward')).toBe('conv backward (input + weight grad)');
    expect(torchCategory('autograd::engine::evaluate_function: ConvolutionBackward0')).toBe('conv backward (input + weight grad)');
    expect(torchCategory('aten::native_batch_norm_backward')).toBe('the rest (BN, ReLU, adds, loss, SGD)');
  });

  it('the gap table sums each side by part, with totals and signed differences', () => {
    const ours = [
      { group: 'Conv (conv weight grad)', ms: 30, share: 0, nodes: 1 },
      { group: 'Conv (input grad)', ms: 10, share: 0, nodes: 1 },
      { group: 'Conv (forward)', ms: 8, share: 0, nodes: 1 },
      { group: 'Mul', ms: 5, share: 0, nodes: 1 },
    ];
    const lines = gapByCategory(ours, { 'aten::mkldnn_convolution': 12, 'aten::convolution_backward': 25, 'aten::add': 2, 'aten::relu': 1 });
    expect(lines.map((l) => [l.oursMs, l.torchMs])).toEqual([[8, 12], [40, 25], [0, 0], [5, 3]]);
    const text = formatGap(lines).split('\n');
    expect(text).toHaveLength(6);
    expect(text[1].trim().split(/\s{2,}/)).toEqual(['conv forward', '8.0', '12.0', '-4.0']);
    expect(text[2].trim().split(/\s{2,}/)).toEqual(['conv backward (input + weight grad)', '40.0', '25.0', '+15.0']);
    expect(text[5].trim().split(/\s{2,}/)).toEqual(['total', '53.0', '40.0', '+13.0']);
  });
});

describe('PyTorch side of the benchmark', () => {
  itTorch('reports its per-op profile, which sorts into conv forward, conv backward and the rest', () => {
    const c = { model: 'cnn4', input: [1, 28, 28] as [number, number, number], batch: 8, steps: 2, warmup: 1, threads: 1, lr: 0.1, momentum: 0.9, wd: 5e-4, seed: 0, nchwc: true, ep: 'cpu' as const };
    const r = runTorchChild(c, true);
    expect(r.images_per_s).toBeGreaterThan(0);
    const lines = gapByCategory([], r.profile_ms!);
    for (const l of lines) if (l.category !== 'NCHWc reorders') expect(l.torchMs).toBeGreaterThan(0);
  });
});
