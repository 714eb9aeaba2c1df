/**
 * A sweep: a base training config and the points to vary it at. The points are the product of a
 * list (explicit points, default one empty point), a grid (each key over its values) and seeds;
 * each point overrides fields of the base config. Keys are TrainConfig fields, written as in
 * JSON (`batchSize`), in kebab-case (`batch-size`) or as `ilr train` spells the option (`keep`);
 * a value may be written as the option's text (`schedule=wd_40_lr_80`, `betas=0.9,0.99`).
 *
 * A sweep file is JSON of the same shape:
 *   { "train": ["--model", "cnn4", "--steps", "300"],   // and/or "base": { TrainConfig fields }
 *     "grid": { "lr": [0.1, 0.2], "wd": [5e-4, 1e-3] },
 *     "list": [{ "lr": 0.4, "wd": 1.25e-4 }],
 *     "seeds": [0, 1, 2] }
 */
import * as fs from 'fs';
import { checkConfigFields, CONFIG_FIELDS, fieldNamed, resolveConfig, TrainConfig, valueFromText } from '../train/config';

export type Overrides = Record<string, unknown>;

export interface SweepSpec {
  /** Arguments of `ilr train` for the base config (applied first). */
  train?: string[];
  /** TrainConfig fields of the base config (applied over `train`). */
  base?: Overrides;
  grid?: Record<string, unknown[]>;
  list?: Overrides[];
  seeds?: number[];
}

export interface SweepPoint {
  /** The run's directory name: the varying keys and their values, e.g. lr0.1-wd0.0005-s0. */
  name: string;
  overrides: Overrides;
  config: TrainConfig;
}

/** `batch-size` → `batchSize`, `keep` → `keepCheckpoints`; rejects keys that are no training option. */
function fieldOf(key: string, where: string): keyof TrainConfig {
  const field = fieldNamed(key);
  if (!field) throw new Error(`${where}: "${key}" is not a training option; expected one of ${[...CONFIG_FIELDS].sort().join(', ')}`);
  return field;
}

/** A value written on the command line: a number, true/false, JSON, or else the text itself. */
export function parseValue(text: string): unknown {
  const t = text.trim();
  if (t !== '' && Number.isFinite(Number(t))) return Number(t);
  if (t === 'true' || t === 'false') return t === 'true';
  if (/^[[{"]/.test(t)) return JSON.parse(t);
  return t;
}

/** `0-2` → [0, 1, 2]; `0,3,5` → [0, 3, 5]. */
export function parseSeeds(text: string): number[] {
  const range = /^(\d+)-(\d+)$/.exec(text.trim());
  const seeds = range ? Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, i) => Number(range[1]) + i) : text.split(',').map(Number);
  if (seeds.length === 0 || !seeds.every((s) => Number.isInteger(s) && s >= 0)) throw new Error(`--seeds "${text}": expected a range such as 0-2 or a list such as 0,3,5`);
  return seeds;
}

/** `lr=0.1,0.2,0.4` → ['lr', [0.1, 0.2, 0.4]] (a JSON value may hold commas: `schedule=[...]` is one value). */
export function parseGridOption(text: string): [string, unknown[]] {
  const i = text.indexOf('=');
  if (i <= 0) throw new Error(`--grid "${text}": expected KEY=V1,V2,…, e.g. lr=0.1,0.2,0.4`);
  const values = text.slice(i + 1);
  const parsed = /^\s*\[/.test(values) ? (JSON.parse(values) as unknown[]) : values.split(',').map(parseValue);
  if (parsed.length === 0) throw new Error(`--grid "${text}": no values`);
  return [text.slice(0, i), parsed];
}

/** `lr=0.4 wd=1.25e-4` → { lr: 0.4, wd: 1.25e-4 }. */
export function parseListOption(text: string): Overrides {
  const point: Overrides = {};
  for (const part of text.trim().split(/\s+/)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new Error(`--list "${text}": expected KEY=VALUE pairs separated by spaces, e.g. "lr=0.4 wd=1.25e-4"`);
    point[part.slice(0, i)] = parseValue(part.slice(i + 1));
  }
  return point;
}

export function readSweepFile(file: string): SweepSpec {
  if (!fs.existsSync(file)) throw new Error(`--file ${file}: no such file`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as SweepSpec;
  } catch (e) {
    throw new Error(`--file ${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** Field values as TrainConfig holds them (a schedule given by name or JSON text becomes a Schedule), each checked for its type. */
export function normalise(o: Overrides, where: string): Overrides {
  const fields = Object.fromEntries(Object.entries(o).map(([k, v]) => {
    const field = fieldOf(k, where);
    return [field, valueFromText(field, v)];
  }));
  checkConfigFields(fields, where);
  return fields;
}

const short = (field: string): string => (field === 'seed' ? 's' : field);

/** The text of a value in a run name: a scalar as written, anything else by its position among the key's values. */
function nameValue(v: unknown, all: unknown[]): string {
  const text = typeof v === 'object' && v !== null ? String(all.findIndex((a) => JSON.stringify(a) === JSON.stringify(v))) : String(v);
  return text.replace(/[^A-Za-z0-9.+_-]/g, '_');
}

/** Expands a sweep into its points, given the base config (from `train` and `base`). */
export function expandSweep(spec: SweepSpec, base: TrainConfig): SweepPoint[] {
  let points: Overrides[] = (spec.list?.length ? spec.list : [{}]).map((p) => normalise(p, 'list'));
  const grid = Object.entries(spec.grid ?? {}).map(([k, vs]) => [fieldOf(k, 'grid'), vs.map((v) => normalise({ [k]: v }, 'grid')[fieldOf(k, 'grid')])] as const);
  if (spec.seeds?.length) grid.push(['seed', spec.seeds]);
  for (const [field, values] of grid) {
    if (values.length === 0) throw new Error(`grid: ${field} has no values`);
    points = points.flatMap((p) => values.map((v) => ({ ...p, [field]: v })));
  }
  const keys = [...new Set(points.flatMap((p) => Object.keys(p)))];
  const valuesOf = (k: string) => points.map((p) => (k in p ? p[k] : (base as unknown as Overrides)[k]));
  const varying = keys.filter((k) => new Set(valuesOf(k).map((v) => JSON.stringify(v))).size > 1);
  const named = points.map((p) => {
    const name = varying.map((k) => `${short(k)}${nameValue(k in p ? p[k] : (base as unknown as Overrides)[k], valuesOf(k))}`).join('-') || 'run';
    return { name, overrides: p, config: resolveConfig({ ...base, ...p } as TrainConfig) };
  });
  const seen = new Set<string>();
  for (const p of named) {
    if (seen.has(p.name)) throw new Error(`the sweep has two runs named ${p.name}: a point is listed twice`);
    seen.add(p.name);
  }
  return named;
}
