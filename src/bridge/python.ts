/**
 * Calling the PyTorch referee (scripts/torch_bridge.py). PyTorch comes from Debian's python3-torch
 * under /usr/bin/python3; the `python3` first on PATH may be another interpreter without torch, so
 * the interpreter is found by asking it to import torch. ILR_PYTHON overrides the choice.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';

export const BRIDGE_SCRIPT = path.resolve(__dirname, '..', '..', 'scripts', 'torch_bridge.py');

const found = new Map<string, string | null>();

/** The interpreter that imports `module` (torch, onnx), or null when none does. */
export function pythonWith(module: string): string | null {
  if (!found.has(module)) {
    const candidates = [process.env.ILR_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p);
    found.set(module, candidates.find((py) => spawnSync(py, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0) ?? null);
  }
  return found.get(module)!;
}

export const torchPython = (): string | null => pythonWith('torch');

export const TORCH_HELP = 'PyTorch is needed for this check: install Debian\'s python3-torch (`make setup` does, as root) or set ILR_PYTHON to an interpreter that imports torch.';

export interface BridgeResult<T> {
  status: number;
  result: T;
  stderr: string;
}

/** Runs a bridge subcommand and parses the JSON it prints. Exit 1 means "compared, out of tolerance". */
export function runBridge<T = Record<string, unknown>>(args: readonly string[], threads = 2): BridgeResult<T> {
  const py = torchPython();
  if (!py) throw new Error(TORCH_HELP);
  const r = spawnSync(py, [BRIDGE_SCRIPT, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, OMP_NUM_THREADS: String(threads) },
  });
  if (r.error) throw r.error;
  if (r.status !== 0 && r.status !== 1) throw new Error(`torch_bridge.py ${args[0]} failed (exit ${r.status}):\n${r.stderr}`);
  let result: T;
  try {
    result = JSON.parse(r.stdout);
  } catch {
    throw new Error(`torch_bridge.py ${args[0]} printed no JSON:\n${r.stdout}\n${r.stderr}`);
  }
  return { status: r.status ?? 0, result, stderr: r.stderr };
}
