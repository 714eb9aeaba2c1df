/** One figure from start to verdicts: what `ilr reproduce` does for each figure it runs. */
import * as fs from 'fs';
import * as path from 'path';
import { writeJsonAtomic } from '../io/files';
import type { FigureSection } from '../plot/report';
import { Context, Experiment, refuseOverrides, SCALE_RATIONALE } from './frame';
import { figureOptimizerLabel, figureOverridesLabel, runPlanned, withFigureOverrides } from './runs';

/** Runs one figure and writes its section.json; `reportDir` is where image paths are made relative to. */
export async function runExperiment(exp: Experiment, ctx: Context, reportDir: string): Promise<FigureSection> {
  refuseOverrides(exp, ctx);
  const p = exp.preset(ctx.scale, ctx);
  const own = exp.plan(p, ctx);
  // The runs' configs with --optimizer and --model applied, made before anything is written: a
  // combination the config refuses (Adam under SVAG, say) leaves no figure directory behind.
  // `--optimizer` or `--model` naming the figure's own changes nothing, and the checks stay checks.
  const changed = JSON.stringify(withFigureOverrides(own, ctx)) !== JSON.stringify(own);
  fs.mkdirSync(ctx.dir, { recursive: true });
  const started = Date.now();
  await (exp.run ? exp.run(p, ctx) : runPlanned(own, ctx));
  const images = await exp.plot(p, ctx);
  const verdicts = exp.check(p, ctx);
  const other = changed ? figureOverridesLabel(ctx, ', ') : undefined;
  const ownParts = [ctx.model && 'model', ctx.optimizer && 'optimizer'].filter(Boolean).join(' and ');
  const section: FigureSection = {
    id: exp.id,
    title: exp.title,
    claim: exp.claim,
    settings: {
      scale: ctx.scale,
      ...exp.settings(p),
      ...(other && ctx.model ? { model: `${ctx.model} for every run (--model), instead of the figure's own` } : {}),
      ...(other && ctx.optimizer ? { optimizer: `${figureOptimizerLabel(ctx.optimizer)} for every run (--optimizer), instead of the figure's own` } : {}),
    },
    rationale: SCALE_RATIONALE[ctx.scale],
    images: images.map((f) => path.relative(reportDir, f)),
    verdicts: other ? verdicts.map((v) => ({ ...v, informative: true, expected: `${v.expected} (calibrated for the figure's own ${ownParts}; this run: ${other})` })) : verdicts,
    seconds: (Date.now() - started) / 1000,
    notes: [
      ...(other ? [`Every run of this figure trained with ${other} instead of the figure's own ${ownParts}. Its checks and their thresholds were calibrated for the figure's own (SGD, its model) and are reported as information: they are not pass/fail for ${other}, whose equilibrium can differ (docs/science.md).`] : []),
      ...(exp.notes?.(p, ctx) ?? []),
    ],
  };
  writeJsonAtomic(path.join(ctx.dir, 'section.json'), section);
  return section;
}
