/**
 * `ilr architecture`: a model's forward pass as the JSON the PyTorch referee builds its twin from,
 * or (--invariance) its weights with their scale invariance, jointly and alone, read off the graph.
 */
import { CommandModule } from 'yargs';
import { ModelLayout, modelLayout } from '../nn/model';
import { modelSpec, PRESET_HELP } from '../nn/spec';
import { importOptions, parseInputShape } from './options';

interface Args {
  model: string;
  input: string;
  classes?: number;
  'bn-eps'?: number;
  widths?: number[];
  si?: boolean;
  invariance?: boolean;
}

/** One line per parameter: trainable or frozen, and whether scaling it (with the group, alone) leaves the loss unchanged. */
export function invarianceTable(layout: ModelLayout): string {
  const rows = layout.params.map((p) => [p.name, `[${p.shape.join(',')}]`, p.trainable ? 'trained' : 'frozen', p.scaleInvariant ? 'yes' : 'no', p.scaleInvariantAlone ? 'yes' : 'no']);
  const all = [['parameter', 'shape', '', 'invariant jointly', 'alone'], ...rows];
  const widths = all[0].map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const lines = all.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
  const jointly = rows.filter((r) => r[3] === 'yes').length;
  const alone = rows.filter((r) => r[4] === 'yes').length;
  return [...lines, `${jointly} weights invariant jointly, ${alone} alone, of ${rows.length} parameters`].join('\n');
}

export const architectureCommand: CommandModule<object, Args> = {
  command: 'architecture',
  describe: 'print a model\'s architecture as JSON (torch_bridge.py bench/angular --model take it)',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: PRESET_HELP })
      .option('input', { type: 'string', default: '3x32x32', describe: 'input shape CxHxW (LayerNorm\'s affine parameters depend on it)' })
      .option('classes', { type: 'number', describe: 'number of classes (default 10; an imported model\'s own)' })
      .option('bn-eps', { type: 'number', describe: 'ε of the norm layers (default 1e-5)' })
      .option('widths', { type: 'number', array: true, describe: 'cnn4 models: the three conv widths (default: the preset\'s)' })
      .option('si', importOptions.si)
      .option('invariance', { type: 'boolean', describe: 'list the weights and their scale invariance (jointly, alone) instead of the JSON' }),
  handler: (a) => {
    const input = parseInputShape(a.input);
    if (a.widths && a.widths.length !== 3) throw new Error(`--widths ${a.widths.join(' ')}: expected the three conv widths of a cnn4 model, e.g. --widths 16 32 64`);
    const widths = a.widths as [number, number, number] | undefined;
    const spec = modelSpec(a.model, { inChannels: input[0], numClasses: a.classes, bnEps: a['bn-eps'], widths, ...(a.si === undefined ? {} : { si: a.si }) });
    const layout = modelLayout(spec, input);
    console.log(a.invariance ? invarianceTable(layout) : JSON.stringify(layout.architecture));
  },
};
