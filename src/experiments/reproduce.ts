/** Runs figures in order and writes the report: what `ilr reproduce` and each figure command do. */
import * as path from 'path';
import { FigureSection, writeReport } from '../plot/report';
import { BUDGET_SECONDS, Context, Experiment, Scale } from './frame';
import { runExperiment } from './run-experiment';
import { figureOverridesLabel, RunsSubmitted } from './runs';

export type FigureOptions = Omit<Context, 'dir'> & { out: string };

/** A figure's directory is <out>/<id>; with `--model` or `--optimizer`, <out>/<id>-<model>-<optimizer>, so the figure's own runs are kept. */
export const figureContext = (o: FigureOptions, id: string): Context => {
  const { out, ...ctx } = o;
  const label = figureOverridesLabel(o);
  return { ...ctx, dir: path.join(out, label ? `${id}-${label}` : id) };
};

export async function reproduce(experiments: Experiment[], o: FigureOptions, command?: string): Promise<FigureSection[]> {
  const sections: FigureSection[] = [];
  const submitted: string[] = [];
  for (const e of experiments) {
    if (!o.quiet) console.error(`== ${e.id} (${o.scale})`);
    try {
      sections.push(await runExperiment(e, figureContext(o, e.id), o.out));
    } catch (err) {
      if (!(err instanceof RunsSubmitted)) throw err;
      submitted.push(err.message);
    }
  }
  // Figures whose runs went to a queue are plotted when the same command runs again after them.
  if (submitted.length > 0) throw new RunsSubmitted(submitted.join('\n'));
  await writeReport(o.out, {
    title: 'intrinsic-lr: reproducing "The Intrinsic Learning Rate" (Li, Lyu & Arora, NeurIPS 2020)',
    scale: o.scale as Scale,
    sections,
    generatedAt: new Date(),
    budgetSeconds: BUDGET_SECONDS[o.scale],
    command,
  });
  return sections;
}
