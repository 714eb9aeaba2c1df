/**
 * Where a train step's time goes: ORT's profile (Chrome trace JSON) summed by op type, with conv
 * nodes split by role. Every node of a conv weight gradient's expansion writes a `dw_…` value
 * (ops/conv.ts); of the other Convs, one whose weight is a graph input (possibly cut to the taps
 * that read input, reshaped and transposed into the NCHWc layout) is a forward conv, and the rest
 * (the flipped kernel) and ConvTranspose compute input gradients.
 */
import * as fs from 'fs';
import { SerializeOptions, toModelProto } from '../graph/onnx';
import { Graph } from '../graph/ir';
import { FLIPPED_KERNEL_PREFIX, USED_TAPS_PREFIX, WEIGHT_GRAD_PREFIX } from '../ops/conv';

export interface ProfileLine {
  group: string;
  ms: number;
  share: number;
  nodes: number;
}

interface NodeInfo {
  opType: string;
  input: string[];
  output: string[];
}

/** Role-qualified group names for the nodes of `graph` serialized as the program was, by ONNX node name. */
export function nodeGroups(graph: Graph, options: SerializeOptions = {}): Map<string, string> {
  const proto = toModelProto(graph, options).graph!;
  const graphInputs = new Set((proto.input ?? []).map((v) => v.name!));
  const nodes = new Map<string, NodeInfo>();
  const producers = new Map<string, NodeInfo>();
  for (const n of proto.node ?? []) {
    const info = { opType: n.opType!, input: n.input ?? [], output: n.output ?? [] };
    nodes.set(n.name!, info);
    for (const o of info.output) producers.set(o, info);
  }
  // The value a weight was reshaped or transposed from (the NCHWc filter reorder), or cut to the
  // taps that read input; a flipped kernel (made of the weight by a Transpose, for a 1×1 kernel) is its own origin.
  const origin = (value: string): string => {
    const p = producers.get(value);
    const through = p && !value.startsWith(FLIPPED_KERNEL_PREFIX) && (p.opType === 'Reshape' || p.opType === 'Transpose' || value.startsWith(USED_TAPS_PREFIX));
    return through ? origin(p.input[0]) : value;
  };
  const groups = new Map<string, string>();
  for (const [name, n] of nodes) {
    let group = n.opType;
    if (n.output.some((o) => o.startsWith(WEIGHT_GRAD_PREFIX))) group = `${n.opType} (conv weight grad)`;
    else if (n.opType === 'Conv') group = graphInputs.has(origin(n.input[1])) ? 'Conv (forward)' : 'Conv (input grad)';
    else if (n.opType === 'ConvTranspose') group = 'ConvTranspose (input grad)';
    groups.set(name, group);
  }
  return groups;
}

/** One tensor of an ORT profile event: its element type and shape, e.g. `{ float: [128, 16, 32, 32] }`. */
type ProfileTensor = Record<string, number[]>;

export interface ProfileEvent {
  cat?: string;
  name?: string;
  ts?: number;
  dur?: number;
  args?: { op_name?: string; input_type_shape?: ProfileTensor[]; output_type_shape?: ProfileTensor[] };
}

/** Sums kernel times per group as ms per run, over the runs after the first `skipRuns` (warm-up). */
export function summarizeProfile(events: readonly ProfileEvent[], groups: Map<string, string>, skipRuns = 0): ProfileLine[] {
  return sumKernels(events, (node, e) => groupOf(node, e, groups), skipRuns);
}

/**
 * The same sums by group and tensor shapes, which tells the layers apart: e.g. a weight-gradient
 * conv of a 32×32 layer against the forward conv of the same layer, or a node that reads its input
 * from memory rather than cache (same shapes as another, slower).
 */
export function summarizeByShape(events: readonly ProfileEvent[], groups: Map<string, string>, skipRuns = 0): ProfileLine[] {
  const shapes = (ts: ProfileTensor[] = []) => ts.map((t) => Object.values(t)[0]?.join('x') || 'scalar').join(', ');
  return sumKernels(events, (node, e) => `${groupOf(node, e, groups)}  ${shapes(e.args?.input_type_shape)} -> ${shapes(e.args?.output_type_shape)}`, skipRuns);
}

const groupOf = (node: string, e: ProfileEvent, groups: Map<string, string>): string => groups.get(node) ?? e.args?.op_name ?? 'other';

function sumKernels(events: readonly ProfileEvent[], keyOf: (node: string, e: ProfileEvent) => string, skipRuns: number): ProfileLine[] {
  const runs = events.filter((e) => e.name === 'model_run').map((e) => e.ts ?? 0).sort((a, b) => a - b);
  if (runs.length <= skipRuns) throw new Error(`the profile holds ${runs.length} runs, none after the ${skipRuns} warm-up runs`);
  const from = runs[skipRuns];
  const steps = runs.length - skipRuns;
  const sums = new Map<string, { us: number; nodes: Set<string> }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || (e.ts ?? 0) < from) continue;
    const node = e.name.slice(0, -'_kernel_time'.length);
    const key = keyOf(node, e);
    const s = sums.get(key) ?? { us: 0, nodes: new Set<string>() };
    s.us += e.dur ?? 0;
    s.nodes.add(node);
    sums.set(key, s);
  }
  const total = [...sums.values()].reduce((a, s) => a + s.us, 0);
  return [...sums.entries()]
    .map(([group, s]) => ({ group, ms: s.us / 1000 / steps, share: total ? s.us / total : 0, nodes: s.nodes.size }))
    .sort((a, b) => b.ms - a.ms);
}

export function readProfile(file: string): ProfileEvent[] {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** One aligned row per group, heaviest first; with `limit`, the first `limit` rows and one line for the rest. */
export function formatProfile(lines: readonly ProfileLine[], limit = lines.length): string {
  const total = lines.reduce((a, l) => a + l.ms, 0);
  const shown = lines.slice(0, limit);
  const rest = lines.slice(limit);
  const width = Math.max(28, ...shown.map((l) => l.group.length));
  const row = (name: string, ms: number, share: number, nodes: number) =>
    `${name.padEnd(width)} ${ms.toFixed(1).padStart(8)} ms ${(100 * share).toFixed(1).padStart(6)} %  ${String(nodes).padStart(4)} nodes`;
  const rows = shown.map((l) => row(l.group, l.ms, l.share, l.nodes));
  if (rest.length) {
    const sum = (f: (l: ProfileLine) => number) => rest.reduce((a, l) => a + f(l), 0);
    rows.push(row(`(${rest.length} more)`, sum((l) => l.ms), sum((l) => l.share), sum((l) => l.nodes)));
  }
  return [...rows, `${'total (kernels)'.padEnd(width)} ${total.toFixed(1).padStart(8)} ms`].join('\n');
}

/**
 * The coarse parts of a train step, shared by both profilers so the two can be set side by side.
 * PyTorch's oneDNN reorders its layouts inside its conv calls; ours are nodes of their own, so
 * they get a row of their own rather than hiding in "the rest".
 */
export const GAP_CATEGORIES = ['conv forward', 'conv backward (input + weight grad)', 'NCHWc reorders', 'the rest (BN, ReLU, adds, loss, SGD)'] as const;
export type GapCategory = (typeof GAP_CATEGORIES)[number];

/** Category of one of our profile groups (nodeGroups' names). */
export function ourCategory(group: string): GapCategory {
  if (group === 'Conv (forward)') return 'conv forward';
  if (group.endsWith('(conv weight grad)') || group.endsWith('(input grad)')) return 'conv backward (input + weight grad)';
  if (group === 'ReorderInput' || group === 'ReorderOutput') return 'NCHWc reorders';
  return 'the rest (BN, ReLU, adds, loss, SGD)';
}

/** Category of a torch.profiler key (aten op or autograd function). */
export function torchCategory(op: string): GapCategory {
  if (/convolution_?backward/i.test(op)) return 'conv backward (input + weight grad)';
  if (/convolution|conv2d/i.test(op)) return 'conv forward';
  return 'the rest (BN, ReLU, adds, loss, SGD)';
}

export interface GapLine {
  category: GapCategory;
  oursMs: number;
  torchMs: number;
}

/** ms per step by category: ours from ORT's kernel times, PyTorch's from self CPU time per op. */
export function gapByCategory(ours: readonly ProfileLine[], torchMs: Readonly<Record<string, number>>): GapLine[] {
  const lines = GAP_CATEGORIES.map((category) => ({ category, oursMs: 0, torchMs: 0 }));
  const line = (c: GapCategory) => lines.find((l) => l.category === c)!;
  for (const l of ours) line(ourCategory(l.group)).oursMs += l.ms;
  for (const [op, ms] of Object.entries(torchMs)) line(torchCategory(op)).torchMs += ms;
  return lines;
}

export function formatGap(lines: readonly GapLine[]): string {
  const total = { category: 'total', oursMs: lines.reduce((a, l) => a + l.oursMs, 0), torchMs: lines.reduce((a, l) => a + l.torchMs, 0) };
  const width = Math.max(...[...lines, total].map((l) => l.category.length));
  const cells = (c: string, ours: string, torch: string, diff: string) => `${c.padEnd(width)}  ${ours.padStart(8)}  ${torch.padStart(8)}  ${diff.padStart(14)}`;
  const row = (l: { category: string; oursMs: number; torchMs: number }) => {
    const d = l.oursMs - l.torchMs;
    return cells(l.category, l.oursMs.toFixed(1), l.torchMs.toFixed(1), `${d >= 0 ? '+' : ''}${d.toFixed(1)}`);
  };
  return [cells('ms per step', 'ours', 'PyTorch', 'ours − PyTorch'), ...lines.map(row), row(total)].join('\n');
}
