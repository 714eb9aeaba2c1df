/** `ilr parity`: our gradients against PyTorch's, in float64, for any model (an imported one against its own module, --torch) and input shape. */
import { CommandModule } from 'yargs';
import { runParity } from '../bridge/parity';
import { PRESET_HELP } from '../nn/spec';
import { importOptions, parseInputShape, parseTorchModule } from './options';

interface Args {
  model: string;
  batch: number;
  input: string;
  seed: number;
  tol: number;
  keep?: string;
  si?: boolean;
  torch?: string;
  'torch-kwargs': string;
}

export const parityCommand: CommandModule<object, Args> = {
  command: 'parity',
  describe: 'compare logits, loss and every gradient with PyTorch (float64) on random weights and a random batch',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: PRESET_HELP })
      .option('batch', { type: 'number', default: 8, describe: 'batch size' })
      .option('input', { type: 'string', default: '3x32x32', describe: 'input shape CxHxW' })
      .option('seed', { type: 'number', default: 0, describe: 'seed for weights and batch' })
      .option('tol', { type: 'number', default: 1e-4, describe: 'largest relative L2 error accepted' })
      .option('keep', { type: 'string', describe: 'directory to keep the comparison file in (default: a temp dir, removed)' })
      .options(importOptions),
  handler: async (a) => {
    const torch = parseTorchModule(a.torch, a['torch-kwargs']);
    const report = await runParity({ model: a.model, batch: a.batch, input: parseInputShape(a.input), seed: a.seed, tol: a.tol, keep: a.keep, torch, si: a.si });
    const worst = Object.entries(report.errors).sort((x, y) => y[1] - x[1]);
    for (const [name, err] of worst) console.log(`${err.toExponential(2).padStart(10)}  ${name}`);
    console.log(`${report.ok ? 'PASS' : 'FAIL'}: max relative error ${report.max_rel_err.toExponential(2)} (tolerance ${report.tol}) over ${worst.length} tensors`);
    if (!report.ok) process.exitCode = 1;
  },
};
