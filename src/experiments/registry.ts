/** Every figure, in report order. */
import { Experiment } from './frame';
import { toy } from './toy';
import { explr } from './explr';

export const EXPERIMENTS: Experiment<any>[] = [toy, explr]; // eslint-disable-line @typescript-eslint/no-explicit-any

export function experimentById(id: string): Experiment<unknown> {
  const e = EXPERIMENTS.find((x) => x.id === id);
  if (!e) throw new Error(`unknown figure "${id}"; known: ${EXPERIMENTS.map((x) => x.id).join(', ')}`);
  return e;
}
