/** `ilr models`: writes every program of the model zoo as an .onnx file, to open in an ONNX viewer. */
import * as fs from 'fs';
import * as path from 'path';
import { CommandModule } from 'yargs';
import { serialize } from '../graph/onnx';
import { allPrograms, ZOO } from '../programs/zoo';

export const modelsCommand: CommandModule<object, { out: string }> = {
  command: 'models',
  describe: 'write the programs of every zoo model (models/zoo.json) as .onnx files',
  builder: (y) => y.option('out', { type: 'string', default: 'models', describe: 'output directory' }),
  handler: (a) => {
    fs.mkdirSync(a.out, { recursive: true });
    for (const entry of ZOO) {
      for (const graph of allPrograms(entry)) {
        const file = path.join(a.out, `${entry.name}.${graph.name}.onnx`);
        const bytes = serialize(graph);
        fs.writeFileSync(file, bytes);
        console.log(`${file}  ${(bytes.length / 1024).toFixed(0)} KiB, ${graph.nodes.length} IR nodes`);
      }
    }
  },
};
