/** Runs each side of a benchmark case in a child process: ours (worker.js) and PyTorch (torch_bridge.py bench). */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { torchModuleMetadata } from '../bridge/parity';
import { runBridge } from '../bridge/python';
import { modelLayout } from '../nn/model';
import { modelSpec } from '../nn/spec';
import { BenchCase, SideResult } from './ours';

export function runOursChild(c: BenchCase): SideResult {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'worker.js'), JSON.stringify(c)], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`bench worker for ${c.model} failed (exit ${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as SideResult;
}

/**
 * PyTorch on the device matching ours: the CPU for --ep cpu, CUDA for the GPU providers when torch
 * has it. With `profile`, the result also holds `profile_ms`: self CPU time per aten op and step
 * (torch.profiler), from a separate run.
 */
export function runTorchChild(c: BenchCase, profile = false): SideResult {
  const layout = modelLayout(modelSpec(c.model, { inChannels: c.input[0] }), c.input);
  const module = torchModuleMetadata(c.torch, layout).torch_module;
  const args = ['bench', '--model', JSON.stringify(layout.architecture), ...(module ? ['--torch-module', module] : []), '--batch', String(c.batch), '--input', c.input.join('x'), '--steps', String(c.steps),
    '--warmup', String(c.warmup), '--threads', String(c.threads), '--momentum', String(c.momentum), '--wd', String(c.wd), '--lr', String(c.lr),
    '--seed', String(c.seed), '--device', c.ep === 'cpu' ? 'cpu' : 'cuda-if-available', ...(profile ? ['--profile'] : [])];
  const { status, result, stderr } = runBridge<SideResult>(args, c.threads);
  if (status !== 0) throw new Error(`torch_bridge.py bench failed for ${c.model}:\n${stderr}`);
  return result;
}
