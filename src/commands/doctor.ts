/** `ilr doctor`: whether an execution provider works here, and if not, what is missing and how to get it. */
import { CommandModule } from 'yargs';
import { doctor } from '../runtime/doctor';
import { parseEp } from './options';

interface Args {
  ep: string;
}

export const doctorCommand: CommandModule<object, Args> = {
  command: 'doctor',
  describe: 'check an execution provider: ORT version and providers, CUDA libraries or the WebGPU adapter, and one train step against the CPU',
  builder: (y) => y.option('ep', { type: 'string', default: 'cpu', describe: 'execution provider to check: cpu, cuda or webgpu' }),
  handler: async (a) => {
    const findings = await doctor(parseEp(a.ep));
    for (const f of findings) console.log(`${f.ok ? 'ok  ' : 'FAIL'}  ${f.what}: ${f.detail}`);
    if (findings.some((f) => !f.ok)) process.exitCode = 1;
  },
};
