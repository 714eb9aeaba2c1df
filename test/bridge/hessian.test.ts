/**
 * The Hessian against PyTorch (float64, double backward on the twin): our exact Hessian-vector
 * products on cnn4-si, preresnet8 and preresnet8-si (and cnn4 on 8×8 images, where kernel taps
 * are cut), and our Lanczos λ_max against the
 * eigenvalues of a small net's whole Hessian. In CI (REQUIRE_TORCH=1) these run.
 */
import { runHessianParity } from '../../src/bridge/hessian';
import { itTorch, withTieRetry } from '../helpers';

describe('Hessian-vector products against PyTorch (relative L2 error < 1e-3)', () => {
  for (const [model, params] of [['cnn4-si', 'si'], ['preresnet8', 'all'], ['preresnet8-si', 'si']] as const) {
    itTorch(`${model}, over ${params === 'si' ? 'the scale-invariant weights' : 'every trainable tensor'}`, async () => {
      const r = await withTieRetry((seed) => runHessianParity({ model, params, seed, batch: 8, input: [3, 16, 16], directions: 2 }));
      console.log(`${model}: HVP relative errors ${JSON.stringify(r.errors)}`);
      expect(r.errors['hv.0']).toBeLessThan(1e-3);
      expect(r.errors['hv.1']).toBeLessThan(1e-3);
      expect(r.ok).toBe(true);
    });
  }

  // At 8×8 input, cnn4's last conv (stride 2, pad 1) runs on a 2×2 image: its 3×3 kernels are cut to
  // the 2×2 taps that read input (ops/conv.ts convolve), and the product differentiates the cut.
  itTorch('cnn4, every trainable tensor, on 8×8 images (kernels cut to the taps that read input)', async () => {
    const r = await withTieRetry((seed) => runHessianParity({ model: 'cnn4', params: 'all', seed, batch: 8, input: [1, 8, 8], directions: 2 }));
    console.log(`cnn4 at 8×8: HVP relative errors ${JSON.stringify(r.errors)}`);
    expect(r.errors['hv.0']).toBeLessThan(1e-3);
    expect(r.errors['hv.1']).toBeLessThan(1e-3);
    expect(r.ok).toBe(true);
  });
});

describe('λ_max against the whole Hessian (PyTorch, float64)', () => {
  itTorch('cnn4-si with widths 2/4/4: Lanczos within 1% of the top eigenvalue', async () => {
    const r = await withTieRetry((seed) => runHessianParity({ model: 'cnn4-si', overrides: { widths: [2, 4, 4] }, params: 'si', seed, batch: 8, input: [1, 12, 12], directions: 1, eigen: true, tol: 1e-2 }));
    console.log(`λ_max: ours ${r.ours_lambda_max} in ${r.ours_iterations} products, PyTorch ${r.lambda_max_ref} (next ${r.lambda_second_ref}) over ${r.size} weights`);
    expect(r.errors.lambda_max).toBeLessThan(1e-2);
    expect(r.ok).toBe(true);
  });
});
