/** `ilr bench`: train-step throughput and peak memory, optionally against PyTorch and with a per-op profile. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CommandModule } from 'yargs';
import { BenchCase, SideResult } from '../bench/ours';
import { formatGap, formatProfile, gapByCategory, nodeGroups, readProfile, summarizeByShape, summarizeProfile } from '../bench/profile';
import { serializeOptions } from '../runtime/session';
import { runOursChild, runTorchChild } from '../bench/sides';
import { BenchRow, combineRounds, formatTable, speedRounds } from '../bench/table';
import { benchGraph } from '../bench/ours';
import { InputShape } from '../nn/model';
import { importOptions, parseBatches, parseEp, parseInputShape, parseTorchModule } from './options';

interface Args {
  model?: string;
  torch?: string;
  'torch-kwargs': string;
  input?: string;
  batch: string;
  steps: number;
  warmup: number;
  rounds: number;
  threads: number;
  'vs-torch': boolean;
  profile: boolean;
  nchwc: boolean;
  ep: string;
  lr: number;
  momentum: number;
  wd: number;
  seed: number;
}

/** Rows of the by-shape profile: enough for every layer width's convs and their largest copies. */
const PROFILE_SHAPE_ROWS = 25;

/** The default suite of the issue: preresnet20/32 on CIFAR-sized input, cnn4 on MNIST-sized input. */
export const DEFAULT_SUITE: { model: string; input: InputShape }[] = [
  { model: 'preresnet20', input: [3, 32, 32] },
  { model: 'preresnet32', input: [3, 32, 32] },
  { model: 'cnn4', input: [1, 28, 28] },
];

export const benchCommand: CommandModule<object, Args> = {
  command: 'bench',
  describe: 'train-step throughput (median images/s, ms/step) and peak RSS on synthetic data; --vs-torch runs PyTorch alongside',
  builder: (y) =>
    y
      .option('model', { type: 'string', describe: 'one model (default: preresnet20, preresnet32 on 3x32x32 and cnn4 on 1x28x28)' })
      .option('input', { type: 'string', describe: 'input shape CxHxW for --model (default 3x32x32)' })
      .option('torch', importOptions.torch)
      .option('torch-kwargs', importOptions['torch-kwargs'])
      .option('batch', { type: 'string', default: '128', describe: 'images per step; a list such as 32,128,256 gives a row per batch size' })
      .option('steps', { type: 'number', default: 12, describe: 'timed steps per round' })
      .option('warmup', { type: 'number', default: 3, describe: 'untimed steps first' })
      .option('rounds', { type: 'number', default: 2, describe: 'rounds per side, alternating ours and PyTorch; the median of the round medians is reported' })
      .option('threads', { type: 'number', default: 2, describe: 'intra-op threads for ORT and torch.set_num_threads' })
      .option('vs-torch', { type: 'boolean', default: false, describe: 'also run the same model, batch, optimizer and threads in PyTorch' })
      .option('ep', { type: 'string', default: 'cpu', describe: 'where our side runs: cpu, cuda or webgpu; with cuda or webgpu, PyTorch runs on CUDA when it has it (else on the CPU; the table says which)' })
      .option('nchwc', { type: 'boolean', default: true, describe: 'ORT\'s NCHWc conv kernels (--no-nchwc: the plain ONNX Conv, for comparison)' })
      .option('profile', { type: 'boolean', default: false, describe: 'print where our time goes by op type (ORT profiler; a separate, slower run); with --vs-torch, also the gap to PyTorch by part of the step' })
      .option('lr', { type: 'number', default: 0.1 })
      .option('momentum', { type: 'number', default: 0.9 })
      .option('wd', { type: 'number', default: 5e-4 })
      .option('seed', { type: 'number', default: 0 }),
  handler: async (a) => {
    if (a.steps < 1 || a.warmup < 0 || a.rounds < 1 || a.threads < 1) throw new Error('--steps, --rounds and --threads must be ≥ 1, --warmup ≥ 0');
    const batches = parseBatches(a.batch);
    const ep = parseEp(a.ep);
    const suite = a.model ? [{ model: a.model, input: parseInputShape(a.input ?? '3x32x32') }] : DEFAULT_SUITE;
    console.log(`ours on ${ep}; batch ${batches.join(', ')}, ${a.threads} threads (ORT intra-op / torch.set_num_threads), SGD lr ${a.lr} momentum ${a.momentum} wd ${a.wd}; ` +
      `${a.warmup} warm-up + ${a.steps} timed steps × ${a.rounds} rounds${a['vs-torch'] ? ', ours and PyTorch alternating' : ''}; each side in its own process (peak = its max RSS)`);
    const rows: BenchRow[] = [];
    const cases = suite.flatMap(({ model, input }) => batches.map((batch): BenchCase => (
      { model, torch: parseTorchModule(a.torch, a['torch-kwargs']), input, batch, steps: a.steps, warmup: a.warmup, threads: a.threads, lr: a.lr, momentum: a.momentum, wd: a.wd, seed: a.seed, nchwc: a.nchwc, ep }
    )));
    for (const c of cases) {
      const ours: SideResult[] = [];
      const torch: SideResult[] = [];
      for (let r = 0; r < a.rounds; r++) {
        ours.push(runOursChild(c));
        if (a['vs-torch']) torch.push(runTorchChild(c));
      }
      const row: BenchRow = { model: c.model, input: c.input, batch: c.batch, threads: a.threads, ours: combineRounds(c.batch, ours), ...(torch.length ? { torch: combineRounds(c.batch, torch), speedRounds: speedRounds(ours, torch) } : {}) };
      rows.push(row);
      const label = `${c.model} (batch ${c.batch})`;
      console.error(`${label}: ours (${ep}) ${row.ours.ms_per_step.toFixed(1)} ms/step${row.torch ? `, PyTorch (${row.torch.device}) ${row.torch.ms_per_step.toFixed(1)} ms/step` : ''}`);
      if (a.profile) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ilr-bench-'));
        try {
          // The model may be a path (an imported net.onnx): the profile is named by its file name alone.
          const p = runOursChild({ ...c, profilePrefix: path.join(dir, path.basename(c.model)) });
          const events = readProfile(p.profile!);
          const groups = nodeGroups(benchGraph(c), await serializeOptions({ ep, nchwc: c.nchwc }));
          const lines = summarizeProfile(events, groups, c.warmup);
          console.log(`\nprofile of ${label} (ORT kernel time per step, ${c.steps} profiled steps):\n${formatProfile(lines)}\n`);
          console.log(`the same by tensor shapes, heaviest first:\n${formatProfile(summarizeByShape(events, groups, c.warmup), PROFILE_SHAPE_ROWS)}\n`);
          if (a['vs-torch']) {
            const torchProfile = runTorchChild(c, true).profile_ms!;
            console.log(`where the gap is, ${label} (ours: ORT kernel time; PyTorch: self CPU time per op, torch.profiler; both profiled runs):\n${formatGap(gapByCategory(lines, torchProfile))}\n`);
          }
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }
    }
    console.log(formatTable(rows));
    const load = os.loadavg()[0];
    if (load > os.cpus().length) console.log(`warning: load average ${load.toFixed(1)} on ${os.cpus().length} cores: other processes competed for the CPU, the timings are not reliable`);
  },
};
