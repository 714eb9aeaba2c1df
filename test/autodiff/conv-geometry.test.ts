/**
 * The stride/padding arithmetic of Conv's backward pass, checked against brute force: which padded
 * input rows each output row reads, and which of them the gradient must reach.
 */
import { convOutputSize, convTransposeOutputPadding, flippedConvPads, im2colSlice } from '../../src/ops/conv';
import { sliceRange } from '../../src/ops/shape';

/** Every (input, kernel, stride, padBegin, padEnd) with a non-empty output, small enough to enumerate. */
function* geometries(): Generator<[number, number, number, number, number]> {
  for (let input = 1; input <= 9; input++)
    for (let kernel = 1; kernel <= 4; kernel++)
      for (let stride = 1; stride <= 3; stride++)
        for (let pb = 0; pb <= 3; pb++)
          for (let pe = 0; pe <= 3; pe++) if (input + pb + pe >= kernel) yield [input, kernel, stride, pb, pe];
}

describe('conv backward geometry', () => {
  it('convOutputSize counts the kernel placements', () => {
    for (const [input, kernel, stride, pb, pe] of geometries()) {
      let count = 0;
      for (let start = 0; start + kernel <= input + pb + pe; start += stride) count++;
      expect(convOutputSize(input, kernel, stride, pb, pe)).toBe(count);
    }
  });

  it('im2colSlice selects exactly the padded rows tap `i` of each output reads', () => {
    for (const [input, kernel, stride, pb, pe] of geometries()) {
      const out = convOutputSize(input, kernel, stride, pb, pe);
      for (let tap = 0; tap < kernel; tap++) {
        const s = im2colSlice(tap, stride, out);
        const { start, count } = sliceRange(input + pb + pe, s.start, s.end, s.step);
        expect({ start, count, step: s.step }).toEqual({ start: tap, count: out, step: stride });
        expect(s.end).toBeLessThanOrEqual(input + pb + pe); // never clamped: the last row read exists
      }
    }
  });

  it('flippedConvPads gives the input extent back at stride 1, or undefined for a pad ≥ k', () => {
    for (const [input, kernel, , pb, pe] of geometries()) {
      const out = convOutputSize(input, kernel, 1, pb, pe);
      const pads = flippedConvPads(kernel, pb, pe);
      if (pb >= kernel || pe >= kernel) {
        expect(pads).toBeUndefined();
        continue;
      }
      expect(pads).toBeDefined();
      expect(convOutputSize(out, kernel, 1, pads![0], pads![1])).toBe(input);
    }
  });

  it('flippedConvPads: dX[h] of the flipped correlation equals the brute-force transpose', () => {
    // 1-D, one channel: y[o] = Σ_i x[o − pb + i]·w[i]; dX[h] = Σ_{o,i: o − pb + i = h} dy[o]·w[i].
    for (const [input, kernel, , pb, pe] of geometries()) {
      const pads = flippedConvPads(kernel, pb, pe);
      if (!pads) continue;
      const out = convOutputSize(input, kernel, 1, pb, pe);
      const w = Array.from({ length: kernel }, (_, i) => i + 1);
      const dy = Array.from({ length: out }, (_, o) => 10 * (o + 1));
      for (let h = 0; h < input; h++) {
        let brute = 0;
        for (let o = 0; o < out; o++) for (let i = 0; i < kernel; i++) if (o - pb + i === h) brute += dy[o] * w[i];
        let flipped = 0; // Σ_i' dyPad[h + i'] · w[k − 1 − i'], dyPad = dy shifted by pads[0]
        for (let ip = 0; ip < kernel; ip++) {
          const o = h + ip - pads[0];
          if (o >= 0 && o < out) flipped += dy[o] * w[kernel - 1 - ip];
        }
        expect(flipped).toBe(brute);
      }
    }
  });

  it('convTransposeOutputPadding restores the input extent and stays below the stride', () => {
    for (const [input, kernel, stride, pb, pe] of geometries()) {
      const out = convOutputSize(input, kernel, stride, pb, pe);
      const op = convTransposeOutputPadding(input, kernel, stride, pb, pe);
      if (stride * (out - 1) + kernel - pb - pe <= 0) continue; // ConvTranspose cannot express it; no model has it
      expect(op).toBeGreaterThanOrEqual(0);
      expect(op).toBeLessThan(stride);
      expect(stride * (out - 1) + kernel - pb - pe + op).toBe(input);
    }
  });
});
