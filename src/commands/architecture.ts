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
  widths?: number[];
}

export const architectureCommand: CommandModule<object, Args> = {
  command: 'architecture',
  describe: 'print a model\'s architecture as JSON (torch_bridge.py bench/angular --model take it)',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: PRESET_HELP })
      .option('input', { type: 'string', default: '3x32x32', describe: 'input shape CxHxW (LayerNorm\'s affine parameters depend on it)' })
      .option('classes', { type: 'number', default: 10, describe: 'number of classes' })
      .option('bn-eps', { type: 'number', describe: 'ε of the norm layers (default 1e-5)' })
      .option('widths', { type: 'number', array: true, describe: 'cnn4 models: the three conv widths (default: the preset\'s)' }),
  handler: (a) => {
    const input = parseInputShape(a.input);
    if (a.widths && a.widths.length !== 3) throw new Error(`--widths ${a.widths.join(' ')}: expected the three conv widths of a cnn4 model, e.g. --widths 16 32 64`);
    const widths = a.widths as [number, number, number] | undefined;
    const spec = modelSpec(a.model, { inChannels: input[0], numClasses: a.classes, bnEps: a['bn-eps'], widths });
    console.log(JSON.stringify(modelLayout(spec, input).architecture));
  },
};
