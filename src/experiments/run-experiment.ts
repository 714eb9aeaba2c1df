/** One figure from start to verdicts: what `ilr reproduce` does for each figure it runs. */
import * as fs from 'fs';
import * as path from 'path';
import { writeJsonAtomic } from '../io/files';
import type { FigureSection } from '../plot/report';
import { Context, Experiment, refuseOptimizer, SCALE_RATIONALE } from './frame';
import { figureOptimizerLabel, runPlanned, withFigureOptimizer } from './runs';

/** Runs one figure and writes its section.json; `reportDir` is where image paths are made relative to. */
export async function runExperiment(exp: Experiment, ctx: Context, reportDir: string): Promise<FigureSection> {
  refuseOptimizer(exp, ctx);
  fs.mkdirSync(ctx.dir, { recursive: true });
  const p = exp.preset(ctx.scale, ctx);
  const started = Date.now();
  await (exp.run ? exp.run(p, ctx) : runPlanned(exp.plan(p, ctx), ctx));
  const images = await exp.plot(p, ctx);
  const verdicts = exp.check(p, ctx);
  // `--optimizer` naming the figure's own optimizer changes nothing, and the checks stay checks.
  const own = exp.plan(p, ctx);
  const changed = JSON.stringify(withFigureOptimizer(own, ctx)) !== JSON.stringify(own);
  const other = ctx.optimizer && changed ? figureOptimizerLabel(ctx.optimizer) : undefined;
  const section: FigureSection = {
    id: exp.id,
    title: exp.title,
    claim: exp.claim,
    settings: { scale: ctx.scale, ...exp.settings(p), ...(other ? { optimizer: `${other} for every run (--optimizer), instead of the figure's own` } : {}) },
    rationale: SCALE_RATIONALE[ctx.scale],
    images: images.map((f) => path.relative(reportDir, f)),
    verdicts: other ? verdicts.map((v) => ({ ...v, informative: true, expected: `${v.expected} (calibrated for the figure's own optimizer; this run: ${other})` })) : verdicts,
    seconds: (Date.now() - started) / 1000,
    notes: [
      ...(other ? [`Every run of this figure trained with ${other} instead of the figure's own optimizer. Its checks and their thresholds were calibrated for that one (SGD) and are reported as information: they are not pass/fail for ${other}, whose equilibrium can differ (docs/science.md).`] : []),
      ...(exp.notes?.(p, ctx) ?? []),
    ],
  };
  writeJsonAtomic(path.join(ctx.dir, 'section.json'), section);
  return section;
}
