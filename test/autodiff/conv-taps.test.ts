/**
 * Tap pruning: a conv whose kernel rows or columns only ever read padding is built with the kernel
 * cut to the taps that read input (usedTaps, convolve). The arithmetic against brute force, and the
 * pruned conv's output and its input and weight gradients against PyTorch's conv2d in float64 on the
 * full kernel. Inputs, weights and output gradients are small integers, so every sum is exact in
 * float32 and the comparison is equality.
 */
import { spawnSync } from 'child_process';
import { gradients } from '../../src/autodiff/engine';
import { Graph } from '../../src/graph/ir';
import { torchPython } from '../../src/bridge/python';
import { mul } from '../../src/ops/elementwise';
import { ConvGeometry, convOutputSize, convolve, dilatedKernel, usedTaps } from '../../src/ops/conv';
import { reduceSum } from '../../src/ops/reduce';
import { Program } from '../../src/runtime/session';
import { itTorch } from '../helpers';

/** The taps of one axis that read a real row for some output, by enumeration. */
function readingTaps(input: number, kernel: number, stride: number, dilation: number, pb: number, pe: number): number[] {
  const out = convOutputSize(input, dilatedKernel(kernel, dilation), stride, pb, pe);
  const taps: number[] = [];
  for (let tap = 0; tap < kernel; tap++) {
    for (let y = 0; y < out; y++) {
      const row = tap * dilation + y * stride;
      if (row >= pb && row < pb + input) {
        taps.push(tap);
        break;
      }
    }
  }
  return taps;
}

describe('usedTaps', () => {
  it.each([
    { what: '1×1 input, 3×3 pad 1: the centre tap', args: [1, 3, 1, 1, 1, 1], taps: { first: 1, last: 1, pads: [0, 0] } },
    { what: '2×2 input, stride 2, pad 1: the last two taps', args: [2, 3, 2, 1, 1, 1], taps: { first: 1, last: 2, pads: [0, 1] } },
    { what: '2×2 input, 5×5 pad 2: the middle three', args: [2, 5, 1, 1, 2, 2], taps: { first: 1, last: 3, pads: [1, 1] } },
    { what: '3×3 input, 5×5 pad 2: nothing pruned (the corner taps reach the corner pixels)', args: [3, 5, 1, 1, 2, 2], taps: { first: 0, last: 4, pads: [2, 2] } },
    { what: '32×32 input, 3×3 pad 1: nothing pruned', args: [32, 3, 1, 1, 1, 1], taps: { first: 0, last: 2, pads: [1, 1] } },
    { what: '2×2 input, 3×3 dilation 2 pad 2: the centre tap', args: [2, 3, 1, 2, 2, 2], taps: { first: 1, last: 1, pads: [0, 0] } },
    { what: '1×1 input, 3×3, pads 2 before and 0 after: the last tap', args: [1, 3, 1, 1, 2, 0], taps: { first: 2, last: 2, pads: [0, 0] } },
    // stride and dilation 3, pads 1 and 3: the taps read rows 0, 3, 6 of the real 1..5; cutting tap 0 would need a pad of −2, so it stays
    { what: 'a cut that would make a pad negative is shortened', args: [5, 3, 3, 3, 1, 3], taps: { first: 0, last: 1, pads: [1, 0] } },
  ])('$what', ({ args: [input, kernel, stride, dilation, pb, pe], taps }) => {
    expect(usedTaps(input, kernel, stride, dilation, pb, pe)).toEqual(taps);
  });

  it('keeps every tap that reads input, drops only taps that read padding, and keeps the output extent', () => {
    for (let input = 1; input <= 7; input++)
      for (let kernel = 1; kernel <= 5; kernel++)
        for (let stride = 1; stride <= 3; stride++)
          for (let dilation = 1; dilation <= 3; dilation++)
            for (let pb = 0; pb <= 4; pb++)
              for (let pe = 0; pe <= 4; pe++) {
                if (input + pb + pe < dilatedKernel(kernel, dilation)) continue;
                const { first, last, pads } = usedTaps(input, kernel, stride, dilation, pb, pe);
                const reading = readingTaps(input, kernel, stride, dilation, pb, pe);
                if (reading.length) expect(first <= reading[0] && last >= reading[reading.length - 1]).toBe(true);
                expect(Math.min(...pads)).toBeGreaterThanOrEqual(0);
                // The kept taps read the same rows as before, shifted by the rows cut in front.
                expect(pads[0]).toBe(pb - first * dilation);
                const out = convOutputSize(input, dilatedKernel(kernel, dilation), stride, pb, pe);
                expect(convOutputSize(input, dilatedKernel(last - first + 1, dilation), stride, pads[0], pads[1])).toBe(out);
              }
  });

  it('convolve gives a 1×1 image a conv with the centre tap of a 3×3 kernel', () => {
    const g = new Graph('taps');
    const y = convolve(g.input('x', [2, 4, 1, 1]), g.input('w', [8, 4, 3, 3]), { strides: [1, 1], pads: [1, 1, 1, 1] });
    expect(y.shape).toEqual([2, 8, 1, 1]);
    expect(y.producer!.inputs[1].shape).toEqual([8, 4, 1, 1]);
    expect(y.producer!.attrs.pads).toEqual([0, 0, 0, 0]);
  });
});

const TORCH_CONV = `
import json, sys, torch
import torch.nn.functional as F
c = json.load(sys.stdin)
t = lambda v, s: torch.tensor(v, dtype=torch.float64).reshape(s).requires_grad_()
x, w = t(c["x"], c["xShape"]), t(c["w"], c["wShape"])
top, left, bottom, right = c["pads"]
y = F.conv2d(F.pad(x, (left, right, top, bottom)), w, stride=c["strides"], dilation=c["dilations"], groups=c["group"])
y.backward(torch.tensor(c["dy"], dtype=torch.float64).reshape(y.shape))
print(json.dumps({"y": y.detach().flatten().tolist(), "dx": x.grad.flatten().tolist(), "dw": w.grad.flatten().tolist()}))
`;

interface Case {
  what: string;
  xShape: [number, number, number, number];
  wShape: [number, number, number, number];
  geometry: Required<ConvGeometry>;
}

const geometry = (strides: [number, number], pads: [number, number, number, number], dilations: [number, number] = [1, 1], group = 1) => ({ strides, pads, dilations, group });

// 16 channels and a batch of 16 take ORT's blocked NCHWc kernels (block 8 or 16); 3 channels and groups the plain ones.
const CASES: Case[] = [
  { what: '1×1 input, 3×3 pad 1 (blocked)', xShape: [16, 16, 1, 1], wShape: [16, 16, 3, 3], geometry: geometry([1, 1], [1, 1, 1, 1]) },
  { what: '2×2 input, stride 2, pad 1 (blocked)', xShape: [16, 16, 2, 2], wShape: [16, 16, 3, 3], geometry: geometry([2, 2], [1, 1, 1, 1]) },
  { what: '2×2 input, 5×5 pad 2', xShape: [2, 3, 2, 2], wShape: [4, 3, 5, 5], geometry: geometry([1, 1], [2, 2, 2, 2]) },
  { what: '2×3 input, 3×3 dilation 2 pad 2', xShape: [2, 3, 2, 3], wShape: [4, 3, 3, 3], geometry: geometry([1, 1], [2, 2, 2, 2], [2, 2]) },
  { what: '1×2 input, asymmetric pads', xShape: [2, 3, 1, 2], wShape: [4, 3, 3, 3], geometry: geometry([1, 1], [2, 0, 0, 1]) },
  { what: '1×1 input, grouped (two groups), 3×3 pad 1', xShape: [2, 4, 1, 1], wShape: [6, 2, 3, 3], geometry: geometry([1, 1], [1, 1, 1, 1], [1, 1], 2) },
  { what: '2×2 input, depthwise, stride 2, pad 1', xShape: [2, 4, 2, 2], wShape: [4, 1, 3, 3], geometry: geometry([2, 2], [1, 1, 1, 1], [1, 1], 4) },
];

/** Small integers, different for each tensor, with negatives. */
const ints = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7 + seed * 3) % 5) - 2);
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function inputs(c: Case) {
  const { strides, pads, dilations } = c.geometry;
  const out = (axis: 2 | 3) => convOutputSize(c.xShape[axis], dilatedKernel(c.wShape[axis], dilations[axis - 2]), strides[axis - 2], pads[axis - 2], pads[axis]);
  const yShape = [c.xShape[0], c.wShape[0], out(2), out(3)];
  return { x: ints(size(c.xShape), 1), w: ints(size(c.wShape), 2), dy: ints(size(yShape), 3) };
}

/** Y, dX and dW = ∂⟨Y, dY⟩/∂(X, W) of convolve, float32 on the CPU. */
async function ours(c: Case) {
  const { x, w, dy } = inputs(c);
  const g = new Graph('conv-taps');
  const xv = g.input('x', c.xShape);
  const wv = g.input('w', c.wShape);
  const y = convolve(xv, wv, c.geometry);
  const grads = gradients(reduceSum(mul(y, g.constant(dy, y.shape))), [xv, wv]);
  g.output('y', y);
  g.output('dx', grads.get(xv)!);
  g.output('dw', grads.get(wv)!);
  const program = await Program.create(g, { threads: 1 });
  try {
    const r = await program.run({ x, w });
    return { y: Array.from(r.y as Float32Array), dx: Array.from(r.dx as Float32Array), dw: Array.from(r.dw as Float32Array) };
  } finally {
    await program.release();
  }
}

function torchConv(c: Case): { y: number[]; dx: number[]; dw: number[] } {
  const { x, w, dy } = inputs(c);
  const request = { x: Array.from(x), w: Array.from(w), dy: Array.from(dy), xShape: c.xShape, wShape: c.wShape, ...c.geometry };
  const r = spawnSync(torchPython()!, ['-c', TORCH_CONV], { input: JSON.stringify(request), encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`torch conv2d failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe.each(CASES)('pruned conv, $what', (c) => {
  it('has its kernel cut', () => {
    const g = new Graph('cut');
    const y = convolve(g.input('x', c.xShape), g.input('w', c.wShape), c.geometry);
    expect(size(y.producer!.inputs[1].shape)).toBeLessThan(size(c.wShape));
  });
  itTorch('Y, dX and dW equal PyTorch’s conv2d on the full kernel', async () => {
    expect(await ours(c)).toEqual(torchConv(c));
  });
});
