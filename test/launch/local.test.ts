/** The local launcher's report of failed runs. */
import { failureReport } from '../../src/launch/local';

it('says each failure once: runs that fail alike (a model that does not fit the data) are counted, not repeated', () => {
  const misfit = 'net.onnx: the model takes 3 input channels, the data has 1';
  expect(failureReport([misfit, misfit, 'run a diverged', misfit], 6)).toBe(`3 of 6 runs: ${misfit}\nrun a diverged`);
  expect(failureReport(['run a diverged'], 6)).toBe('run a diverged');
});
