/** `ilr export`: a checkpoint as a standalone ONNX inference model or a PyTorch-loadable state dict. */
import { CommandModule } from 'yargs';
import { writeFileAtomic } from '../io/files';
import { writeSafetensors } from '../io/safetensors';
import { exportOnnx, exportStateDict } from '../train/export';
import { parseInputShape } from './options';

interface Args {
  checkpoint: string;
  format: string;
  out?: string;
  batch: number;
  input?: string;
}

export const exportCommand: CommandModule<object, Args> = {
  command: 'export',
  describe: 'export a checkpoint: onnx (inference model, weights embedded) or safetensors (state_dict for PyTorch)',
  builder: (y) =>
    y
      .option('checkpoint', { type: 'string', demandOption: true, describe: 'a checkpoint .safetensors file' })
      .option('format', { choices: ['onnx', 'safetensors'], default: 'onnx', describe: 'output format' })
      .option('out', { type: 'string', describe: 'output file (default: next to the checkpoint)' })
      .option('batch', { type: 'number', default: 1, describe: 'onnx: batch size of the model' })
      .option('input', { type: 'string', describe: 'onnx: input shape CxHxW (default: from the checkpoint)' }),
  handler: (a) => {
    const base = a.checkpoint.replace(/\.safetensors$/, '');
    if (a.format === 'onnx') {
      const out = a.out ?? `${base}.onnx`;
      writeFileAtomic(out, exportOnnx(a.checkpoint, a.batch, a.input ? parseInputShape(a.input) : undefined));
      console.log(`wrote ${out} (input "input", output "logits")`);
    } else {
      const out = a.out ?? `${base}.state_dict.safetensors`;
      const { tensors, metadata } = exportStateDict(a.checkpoint);
      writeSafetensors(out, tensors, metadata);
      console.log(`wrote ${out}; in PyTorch: from safetensors_io import read_safetensors (scripts/); model.load_state_dict(read_safetensors('${out}')[0])`);
    }
  },
};
