/** Every figure, in report order. */
import { Experiment } from './frame';
import { decay } from './decay';
import { fullBatch } from './full-batch';
import { intrinsic } from './intrinsic';
import { fastEquilibrium } from './fast-equilibrium';
import { randomSchedules } from './random-schedules';
import { toy } from './toy';
import { explr } from './explr';
import { smallLr } from './small-lr';
import { swaFigure } from './swa';
import { rotational } from './rotational';
import { sde } from './sde';

export const EXPERIMENTS: Experiment<any>[] = [toy, fullBatch, decay, intrinsic, explr, smallLr, swaFigure, fastEquilibrium, randomSchedules, rotational, sde]; // eslint-disable-line @typescript-eslint/no-explicit-any

export function experimentById(id: string): Experiment<unknown> {
  const e = EXPERIMENTS.find((x) => x.id === id);
  if (!e) throw new Error(`unknown figure "${id}"; known: ${EXPERIMENTS.map((x) => x.id).join(', ')}`);
  return e;
}
