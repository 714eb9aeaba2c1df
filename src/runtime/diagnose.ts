/**
 * Checks of an execution provider against the CPU: the same program on the same feeds, compared
 * output by output, and the nodes the provider would hand to the CPU, named from ORT's profile.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Graph, TypedArray } from '../graph/ir';
import { Feeds, Program } from './session';
import { ExecutionProvider } from './providers';

/** max |a − b| / max |b| over one output, b the CPU's (0 when both are all zero). */
export function maxRelativeDifference(a: TypedArray, b: TypedArray): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    const x = Number(a[i]);
    const y = Number(b[i]);
    if (!Number.isFinite(x) || !Number.isFinite(y)) return Number.isNaN(x) && Number.isNaN(y) ? 0 : Infinity;
    diff = Math.max(diff, Math.abs(x - y));
    scale = Math.max(scale, Math.abs(y));
  }
  return scale > 0 ? diff / scale : diff;
}

export interface EpComparison {
  /** Output name → max relative difference to the CPU. */
  differences: Record<string, number>;
  max: number;
}

/** Runs `graph` on `ep` and on the CPU (one thread) with the same feeds and compares every output. */
export async function compareWithCpu(graph: Graph, feeds: Feeds, ep: ExecutionProvider): Promise<EpComparison> {
  const run = async (options: { ep: ExecutionProvider; threads: number }) => {
    const p = await Program.create(graph, options);
    try {
      return await p.run(feeds);
    } finally {
      await p.release();
    }
  };
  const cpu = await run({ ep: 'cpu', threads: 1 });
  const other = await run({ ep, threads: 0 });
  const differences: Record<string, number> = {};
  for (const name of Object.keys(cpu)) differences[name] = maxRelativeDifference(other[name], cpu[name]);
  return { differences, max: Math.max(0, ...Object.values(differences)) };
}

export interface FallbackNode {
  node: string;
  opType: string;
}

/**
 * The nodes of `graph` that `ep` leaves to the CPU: one run with fallback allowed and profiling
 * on, whose profile says which provider ran each node.
 */
export async function cpuFallbackNodes(graph: Graph, feeds: Feeds, ep: ExecutionProvider): Promise<FallbackNode[]> {
  if (ep === 'cpu') return [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ilr-fallback-'));
  try {
    const p = await Program.create(graph, { ep, allowCpuFallback: true, profilePrefix: path.join(dir, 'profile') });
    await p.run(feeds);
    p.endProfiling();
    await p.release();
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error(`onnxruntime wrote no profile in ${dir}`);
    return nodesOnCpu(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface NodeEvent {
  cat?: string;
  name?: string;
  args?: { op_name?: string; provider?: string };
}

/** The distinct nodes a profile shows running on ORT's CPU provider. */
export function nodesOnCpu(events: readonly NodeEvent[]): FallbackNode[] {
  const found = new Map<string, string>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || e.args?.provider !== 'CPUExecutionProvider') continue;
    found.set(e.name.slice(0, -'_kernel_time'.length), e.args.op_name ?? '?');
  }
  return [...found].map(([node, opType]) => ({ node, opType })).sort((a, b) => a.node.localeCompare(b.node));
}
