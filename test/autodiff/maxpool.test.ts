/**
 * MaxPool's values and input gradient against PyTorch's max_pool2d in float64: windows full of
 * ties (PyTorch routes a tie to the first maximum in row-major window order), padding next to
 * negative values (padding must never win), overlapping windows, stride 1 and uneven padding, and
 * windows that tile the image.
 * Inputs and output gradients are small integers, so every sum is exact and the comparison is
 * equality. The same on WebGPU, whose MaxPool has no Indices output either way.
 */
import { spawnSync } from 'child_process';
import { gradients } from '../../src/autodiff/engine';
import { Graph } from '../../src/graph/ir';
import { torchPython } from '../../src/bridge/python';
import { mul } from '../../src/ops/elementwise';
import { convOutputSize } from '../../src/ops/conv';
import { maxPool, PoolGeometry } from '../../src/ops/pool';
import { reduceSum } from '../../src/ops/reduce';
import { Program } from '../../src/runtime/session';
import { itTorch } from '../helpers';
import { itWebGpu } from '../webgpu';

const TORCH_MAXPOOL = `
import json, sys, torch
import torch.nn.functional as F
c = json.load(sys.stdin)
x = torch.tensor(c["x"], dtype=torch.float64).reshape(c["shape"]).requires_grad_()
t, l, b, r = c["pads"]
y = F.max_pool2d(F.pad(x, (l, r, t, b), value=float("-inf")), c["kernel"], c["strides"])
y.backward(torch.tensor(c["dy"], dtype=torch.float64).reshape(y.shape))
print(json.dumps({"y": y.detach().flatten().tolist(), "dx": x.grad.flatten().tolist()}))
`;

interface Case {
  what: string;
  shape: [number, number, number, number];
  geometry: PoolGeometry;
  /** Input values from the element index: few distinct values make ties. */
  value: (i: number) => number;
}

const CASES: Case[] = [
  { what: 'ties (values 0 and 1), overlapping 3×3 windows, stride 2, padding', shape: [2, 2, 7, 6], geometry: { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, value: (i) => (i % 3 === 0 ? 1 : 0) },
  { what: 'all zeros: every window one tie', shape: [1, 2, 6, 6], geometry: { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] }, value: () => 0 },
  { what: 'negative values next to padding', shape: [1, 2, 5, 5], geometry: { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, value: (i) => -1 - (i % 4) },
  { what: 'stride 1, a 2×3 kernel, uneven padding, ties', shape: [1, 3, 5, 7], geometry: { kernel: [2, 3], strides: [1, 2], pads: [1, 0, 0, 2] }, value: (i) => (i * 7) % 3 },
  { what: 'windows that tile the image: 2×3 kernel and stride, ties', shape: [2, 3, 8, 9], geometry: { kernel: [2, 3], strides: [2, 3], pads: [0, 0, 0, 0] }, value: (i) => (i * 5) % 7 % 4 },
  { what: 'kernel = stride on an odd extent (the last row and column in no window)', shape: [1, 2, 7, 7], geometry: { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] }, value: (i) => (i * 5) % 7 },
];

/** Small integers: x from the case's rule, dY cycling through 1…5. */
function inputs(c: Case) {
  const [n, ch, h, w] = c.shape;
  const { kernel: [kh, kw], strides: [sh, sw], pads: p } = c.geometry;
  const outputSize = n * ch * convOutputSize(h, kh, sh, p[0], p[2]) * convOutputSize(w, kw, sw, p[1], p[3]);
  const x = Float32Array.from({ length: n * ch * h * w }, (_, i) => c.value(i));
  const dy = Float32Array.from({ length: outputSize }, (_, i) => 1 + (i % 5));
  return { x, dy };
}

/** Y and dX = ∂⟨Y, dY⟩/∂X of our MaxPool, float32, on `ep`. */
async function ours(c: Case, ep: 'cpu' | 'webgpu') {
  const { x, dy } = inputs(c);
  const g = new Graph('maxpool');
  const input = g.input('x', c.shape);
  const y = maxPool(input, c.geometry);
  g.output('y', y);
  g.output('dx', gradients(reduceSum(mul(y, g.constant(dy, y.shape))), [input]).get(input)!);
  const program = await Program.create(g, { ep, threads: 1 });
  try {
    const out = await program.run({ x });
    return { y: Array.from(out.y as Float32Array), dx: Array.from(out.dx as Float32Array) };
  } finally {
    await program.release();
  }
}

function torchMaxPool(c: Case): { y: number[]; dx: number[] } {
  const { x, dy } = inputs(c);
  const request = { x: Array.from(x), dy: Array.from(dy), shape: c.shape, kernel: c.geometry.kernel, strides: c.geometry.strides, pads: c.geometry.pads };
  const r = spawnSync(torchPython()!, ['-c', TORCH_MAXPOOL], { input: JSON.stringify(request), encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`torch max_pool2d failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe.each(CASES)('MaxPool, $what', (c) => {
  itTorch('Y and dX equal PyTorch’s', async () => {
    expect(await ours(c, 'cpu')).toEqual(torchMaxPool(c));
  });
  itWebGpu('on WebGPU, Y and dX equal the CPU’s', async () => {
    expect(await ours(c, 'webgpu')).toEqual(await ours(c, 'cpu'));
  });
});
