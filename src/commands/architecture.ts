/** `ilr architecture`: a model's forward pass as the JSON the PyTorch referee builds its twin from. */
import { CommandModule } from 'yargs';
import { modelLayout } from '../nn/model';
import { modelSpec, PRESET_HELP } from '../nn/spec';
import { parseInputShape } from './options';

interface Args {
  model: string;
  input: string;
  classes: number;
  'bn-eps'?: number;
}

export const architectureCommand: CommandModule<object, Args> = {
  command: 'architecture',
  describe: 'print a model\'s architecture as JSON (torch_bridge.py bench/angular --model take it)',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: PRESET_HELP })
      .option('input', { type: 'string', default: '3x32x32', describe: 'input shape CxHxW (LayerNorm\'s affine parameters depend on it)' })
      .option('classes', { type: 'number', default: 10, describe: 'number of classes' })
      .option('bn-eps', { type: 'number', describe: 'ε of the norm layers (default 1e-5)' }),
  handler: (a) => {
    const input = parseInputShape(a.input);
    const spec = modelSpec(a.model, { inChannels: input[0], numClasses: a.classes, bnEps: a['bn-eps'] });
    console.log(JSON.stringify(modelLayout(spec, input).architecture));
  },
};
