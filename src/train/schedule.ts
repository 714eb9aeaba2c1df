/**
 * LR and WD schedules as data: a schedule is JSON, and its value at a step is a pure function of
 * the step (timgaripov/swa's `schedule(epoch)` idea), so a resumed run needs no scheduler state.
 *
 * Kinds (milestones and lengths count `unit`s, epochs by default; epoch-unit milestones take
 * effect at epoch boundaries, as torch's MultiStepLR stepped once per epoch does, while cosine
 * follows the fractional epoch):
 * - constant
 * - multistep: LR × lrFactor at each of lrMilestones, WD × wdFactor at each of wdMilestones
 *   (the paper's `wd_x_y_lr_z_u`: WD ÷10 at epochs x, y; LR ÷10 at z, u)
 * - cosine: LR from lr down to lr·minFactor over `length` units; WD constant
 * - exponential: LR = lr·lrScale·lrRate^t, WD = wd·wdRate^t (the ExpLR schedule: lrScale = 1/α,
 *   lrRate = α^−2 gives η·α^(−2t−1); claim 8 in docs/science.md)
 * - piecewise: explicit values from given points on: [{at, lr?, wd?}, …] (absolute values)
 */
import * as fs from 'fs';

export type ScheduleUnit = 'epoch' | 'step';

export type Schedule =
  | { kind: 'constant' }
  | { kind: 'multistep'; unit?: ScheduleUnit; lrMilestones?: number[]; lrFactor?: number; wdMilestones?: number[]; wdFactor?: number }
  | { kind: 'cosine'; unit?: ScheduleUnit; length: number; minFactor?: number }
  | { kind: 'exponential'; unit?: ScheduleUnit; lrScale?: number; lrRate: number; wdRate?: number }
  | { kind: 'piecewise'; unit?: ScheduleUnit; points: { at: number; lr?: number; wd?: number }[] };

export interface Hyper {
  lr: number;
  wd: number;
}

/** LR and WD at `step` (0-based, the step about to run), for a base LR/WD. */
export function scheduleAt(s: Schedule, base: Hyper, step: number, stepsPerEpoch: number): Hyper {
  const unit = 'unit' in s && s.unit === 'step' ? 'step' : 'epoch';
  const t = unit === 'step' ? step : Math.floor(step / stepsPerEpoch);
  const passed = (milestones: number[] = []) => milestones.filter((m) => t >= m).length;
  switch (s.kind) {
    case 'constant':
      return { ...base };
    case 'multistep':
      return {
        lr: base.lr * (s.lrFactor ?? 0.1) ** passed(s.lrMilestones),
        wd: base.wd * (s.wdFactor ?? 0.1) ** passed(s.wdMilestones),
      };
    case 'cosine': {
      const min = s.minFactor ?? 0;
      const u = unit === 'step' ? step : step / stepsPerEpoch;
      const frac = Math.min(u / s.length, 1);
      return { lr: base.lr * (min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * frac))), wd: base.wd };
    }
    case 'exponential':
      return { lr: base.lr * (s.lrScale ?? 1) * s.lrRate ** t, wd: base.wd * (s.wdRate ?? 1) ** t };
    case 'piecewise': {
      const out = { ...base };
      for (const p of [...s.points].sort((a, b) => a.at - b.at)) {
        if (t < p.at) break;
        if (p.lr !== undefined) out.lr = p.lr;
        if (p.wd !== undefined) out.wd = p.wd;
      }
      return out;
    }
  }
}

/** Checks a parsed schedule's shape; the error says what a valid one looks like. */
export function validateSchedule(s: unknown): Schedule {
  const fail = (why: string): never => {
    throw new Error(`schedule ${JSON.stringify(s)}: ${why}. Examples: {"kind":"constant"}, ` +
      `{"kind":"multistep","lrMilestones":[80,120]}, "wd_40_80_lr_120_160", {"kind":"cosine","length":200}, ` +
      `{"kind":"exponential","unit":"step","lrRate":1.0001}, {"kind":"piecewise","points":[{"at":0,"lr":0.1},{"at":50,"wd":0}]}`);
  };
  if (!s || typeof s !== 'object') return fail('not an object');
  const o = s as Record<string, unknown>;
  const nums = (k: string, required = false) => {
    const v = o[k];
    if (v === undefined) return required ? fail(`"${k}" is required`) : undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !(x >= 0))) fail(`"${k}" must be a list of non-negative numbers`);
  };
  const num = (k: string, required = false) => {
    const v = o[k];
    if (v === undefined) return required ? fail(`"${k}" is required`) : undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`"${k}" must be a non-negative number`);
  };
  if (o.unit !== undefined && o.unit !== 'epoch' && o.unit !== 'step') fail('"unit" must be "epoch" or "step"');
  switch (o.kind) {
    case 'constant':
      break;
    case 'multistep':
      nums('lrMilestones'); nums('wdMilestones'); num('lrFactor'); num('wdFactor');
      break;
    case 'cosine':
      num('length', true); num('minFactor');
      if (!((o.length as number) > 0)) fail('"length" must be positive');
      break;
    case 'exponential':
      num('lrRate', true); num('lrScale'); num('wdRate');
      break;
    case 'piecewise':
      if (!Array.isArray(o.points) || o.points.length === 0) fail('"points" must be a non-empty list');
      for (const p of o.points as Record<string, unknown>[]) {
        if (typeof p?.at !== 'number' || (p.lr !== undefined && typeof p.lr !== 'number') || (p.wd !== undefined && typeof p.wd !== 'number')) {
          fail('each point is {"at": number, "lr"?: number, "wd"?: number}');
        }
      }
      break;
    default:
      fail(`unknown kind ${JSON.stringify(o.kind)}`);
  }
  return s as Schedule;
}

/** The paper's naming: `wd_x_y_lr_z_u` = WD ÷10 at epochs x, y and LR ÷10 at epochs z, u (either part may be absent). */
export function paperSchedule(name: string): Schedule | undefined {
  const m = /^(?:wd((?:_\d+)+))?_?(?:lr((?:_\d+)+))?$/.exec(name);
  if (!m || (!m[1] && !m[2])) return undefined;
  const list = (g?: string) => (g ? g.split('_').filter(Boolean).map(Number) : []);
  return { kind: 'multistep', unit: 'epoch', lrMilestones: list(m[2]), wdMilestones: list(m[1]), lrFactor: 0.1, wdFactor: 0.1 };
}

/** A schedule from the command line: JSON text, a JSON file, `constant`, or the paper's `wd_x_y_lr_z_u`. */
export function parseSchedule(text: string): Schedule {
  const t = text.trim();
  if (t === 'constant') return { kind: 'constant' };
  const paper = paperSchedule(t);
  if (paper) return paper;
  let json = t;
  if (!t.startsWith('{')) {
    if (!fs.existsSync(t)) throw new Error(`--schedule "${text}": not JSON, not a file, and not of the form wd_x_y_lr_z_u`);
    json = fs.readFileSync(t, 'utf8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw new Error(`--schedule: invalid JSON (${(e as Error).message})`);
  }
  return validateSchedule(parsed);
}
