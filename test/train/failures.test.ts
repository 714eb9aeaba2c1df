/**
 * How training fails: truncated checkpoints, divergence, and bad input. Each failure must say
 * what happened and what to do, keep what was good, and (for bad input) stop before any work.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readSafetensors } from '../../src/io/safetensors';
import { modelLayout } from '../../src/nn/model';
import { modelSpec } from '../../src/nn/spec';
import { loadCheckpoint, rollingName } from '../../src/train/checkpoint';
import { readMetrics } from '../../src/train/metrics';
import { runFiles } from '../../src/train/run-dir';
import { train } from '../../src/train/trainer';
import { ROOT, runCli, tmpDir, writeConfig } from '../cli';
import { tinyConfig, TINY_DATA } from './fixtures';

let dir: string;
beforeAll(() => {
  dir = tmpDir('ilr-failures-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A finished run of 20 steps with checkpoints at 10 and 20, which tests only read: trained by the first that asks for it, so each test runs alone too. */
let finished: Promise<string> | undefined;
const finishedRun = (): Promise<string> => (finished ??= train(tinyConfig({ steps: 20, checkpointEvery: 10 }), path.join(dir, 'finished'), { quiet: true }).then((r) => r.runDir));

const ckpt = (run: string, step: number) => path.join(runFiles(run).checkpoints, rollingName(step));
const input = TINY_DATA.shape;
const cnn4 = modelSpec('cnn4', { inChannels: 1 });

function truncate(file: string, keep = 0.6): void {
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length * keep)));
}

describe('corrupt checkpoints', () => {
  it('a truncated checkpoint fails to load with an error naming the file; the previous one is still there and loads', async () => {
    const run = path.join(dir, 'truncated');
    await train(tinyConfig({ steps: 20, checkpointEvery: 10 }), run, { quiet: true });
    const newest = ckpt(run, 20);
    const previous = ckpt(run, 10);
    truncate(newest);
    const expected = { spec: cnn4, layout: modelLayout(cnn4, input) };
    expect(() => loadCheckpoint(newest, expected)).toThrow(newest);
    expect(() => loadCheckpoint(newest, expected)).toThrow(/not a valid safetensors file .*truncated/);
    expect(fs.existsSync(previous)).toBe(true);
    expect(loadCheckpoint(previous, expected).position.step).toBe(10);
    // Cut inside the header too.
    truncate(newest, 0.01);
    expect(() => loadCheckpoint(newest, expected)).toThrow(newest);
  });

  it('resuming from a truncated newest checkpoint says which file to delete; after deleting it the run resumes', async () => {
    const run = path.join(dir, 'resume-truncated');
    const config = tinyConfig({ steps: 30, checkpointEvery: 10 });
    const full = await train(config, path.join(dir, 'resume-reference'), { quiet: true });
    await train(config, run, { quiet: true });
    // Make it an interrupted run: no summary, and its newest checkpoint cut short.
    fs.rmSync(runFiles(run).summary);
    fs.rmSync(ckpt(run, 30));
    truncate(ckpt(run, 20));
    const metricsBefore = fs.readFileSync(runFiles(run).metrics, 'utf8');
    const err = await train(config, run, { resume: true, quiet: true }).then(() => null, (e: Error) => e);
    expect(err).not.toBeNull();
    expect(err!.message).toContain(`To resume from the one before it, delete ${ckpt(run, 20)}`);
    expect(err!.message).toMatch(/truncated/);
    expect(fs.readFileSync(runFiles(run).metrics, 'utf8')).toBe(metricsBefore); // nothing touched
    fs.rmSync(ckpt(run, 20));
    const r = await train(config, run, { resume: true, quiet: true });
    expect(r.status).toBe('finished');
    expect(fs.readFileSync(runFiles(run).metrics, 'utf8')).toBe(fs.readFileSync(runFiles(full.runDir).metrics, 'utf8'));
  });

  it('the CLI reports the same and exits non-zero', async () => {
    const run = path.join(dir, 'cli-truncated');
    await train(tinyConfig({ steps: 30, checkpointEvery: 10 }), run, { quiet: true });
    truncate(ckpt(run, 30));
    fs.rmSync(runFiles(run).summary);
    const r = await runCli(['train', '--resume', run, '--quiet']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`delete ${ckpt(run, 30)}`);
  });

  it('a checkpoint of another architecture is refused, naming both models', async () => {
    const run = await finishedRun();
    const file = ckpt(run, 10);
    const pre = modelSpec('preresnet8', { inChannels: 1 });
    expect(() => loadCheckpoint(file, { spec: pre, layout: modelLayout(pre, input) })).toThrow(/is a checkpoint of cnn4 .*but this run uses preresnet8/);
    const si = modelSpec('cnn4-si', { inChannels: 1 });
    expect(() => loadCheckpoint(file, { spec: si, layout: modelLayout(si, input) })).toThrow(/checkpoint of cnn4 .*this run uses cnn4-si/);
    const rgb = modelSpec('cnn4', { inChannels: 3 });
    expect(() => loadCheckpoint(file, { spec: rgb, layout: modelLayout(rgb, [3, 12, 12]) })).toThrow(file);
  });

  it('an exported state dict is not a training checkpoint', async () => {
    const run = await finishedRun();
    const out = path.join(dir, 'sd.safetensors');
    const r = await runCli(['export', '--checkpoint', ckpt(run, 10), '--format', 'safetensors', '--out', out]);
    expect(r.code).toBe(0);
    expect(() => loadCheckpoint(out, { spec: cnn4, layout: modelLayout(cnn4, input) })).toThrow(/not a training checkpoint/);
  });
});

describe('divergence', () => {
  it('lr 1e6: the run stops with a clear message, keeps the last good (finite) checkpoint, exits with code 3', async () => {
    const run = path.join(dir, 'diverged');
    const config = writeConfig(dir, 'diverge.json', { ...tinyConfig(), lr: 1e6, steps: 40, checkpointEvery: 1, logEvery: 1 });
    const r = await runCli(['train', '--config', config, '--out', run, '--quiet']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error: training diverged at step \d+: (.*non-finite values|the loss is NaN)/);
    expect(r.stderr).toMatch(new RegExp(`The last good checkpoint, ${runFiles(run).checkpoints}/step-\\d+\\.safetensors, is kept; lower the learning rate`));
    expect(fs.existsSync(runFiles(run).summary)).toBe(false);
    const records = readMetrics(runFiles(run).metrics);
    const last = records[records.length - 1];
    expect(last.type).toBe('diverged');
    const files = fs.readdirSync(runFiles(run).checkpoints).sort();
    expect(files.length).toBeGreaterThan(0);
    const newest = path.join(runFiles(run).checkpoints, files[files.length - 1]);
    expect(loadCheckpoint(newest, { spec: cnn4, layout: modelLayout(cnn4, input) }).position.step).toBe(last.step - 1);
    for (const [name, t] of readSafetensors(newest).tensors) {
      if (t.dtype === 'float32') expect([name, (t.data as Float32Array).every(Number.isFinite)]).toEqual([name, true]);
    }
  });

  it('a divergence before the first checkpoint says there is none, and the same --out can be started again', async () => {
    const run = path.join(dir, 'diverged-early');
    const config = writeConfig(dir, 'diverge-early.json', { ...tinyConfig(), lr: 1e6, steps: 40, checkpointEvery: 30 });
    const r = await runCli(['train', '--config', config, '--out', run, '--quiet']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('No checkpoint was written before it; lower the learning rate or λη and start again (the same --out may be reused).');
    const again = await runCli(['train', '--config', writeConfig(dir, 'sane.json', tinyConfig({ steps: 10 })), '--out', run, '--quiet']);
    expect([again.code, again.stderr]).toEqual([0, '']);
    expect(readMetrics(runFiles(run).metrics).some((m) => m.type === 'diverged')).toBe(false);
  });

  it('lr 1e3: the loss stays finite but a BN running variance overflows; that is divergence too', async () => {
    const run = path.join(dir, 'overflow');
    const r = await train(tinyConfig({ lr: 1e3, steps: 40, checkpointEvery: 1 }), run, { quiet: true });
    expect(r.status).toBe('diverged');
    expect(r.message).toMatch(/running_var has non-finite values after the update/);
    for (const t of r.state.values()) expect((t.data as Float32Array).every(Number.isFinite)).toBe(true);
  });
});

describe('bad input is refused before any work starts', () => {
  const refused = async (args: string[], why: RegExp) => {
    const out = path.join(dir, `bad-${Math.random().toString(36).slice(2)}`);
    const r = await runCli(['train', ...args, '--out', out, '--quiet']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(why);
    expect(fs.existsSync(out)).toBe(false);
  };

  it('an unknown model', () => refused(['--model', 'resnet9', '--steps', '5'], /unknown model "resnet9"\. Known presets: preresnet/));
  it('a bad preset depth', () => refused(['--model', 'preresnet10', '--steps', '5'], /depth must be 6n\+2/));
  it('a schedule that does not parse', () => refused(['--model', 'cnn4', '--steps', '5', '--schedule', 'wd_40_lr_x'], /--schedule "wd_40_lr_x": not JSON, not a file, and not of the form wd_x_y_lr_z_u/));
  it('a schedule of an unknown kind', () => refused(['--model', 'cnn4', '--steps', '5', '--schedule', '{"kind":"step"}'], /unknown kind "step"/));
  it('an unknown data set', () => refused(['--model', 'cnn4', '--steps', '5', '--dataset', 'imagenet'], /--dataset "imagenet": expected one of/));
  it('an optimizer flag the optimizer does not read', () => refused(['--model', 'cnn4', '--steps', '5', '--optimizer', 'sgd', '--betas', '0.9,0.99'], /--betas does not apply to --optimizer sgd \(it takes --momentum, --nesterov\)/));
  it('a negative thread count', () => refused(['--model', 'cnn4', '--steps', '5', '--threads', '-1'], /threads must be a non-negative integer \(0 = one per core\), got -1/));
  it('a config file with a bad value', async () => {
    const config = writeConfig(dir, 'bad.json', { ...tinyConfig(), momentum: 1.5 });
    await refused(['--config', config], /momentum must be in \[0, 1\)/);
  });

  it('resuming a directory that holds no run', async () => {
    const r = await runCli(['train', '--resume', path.join(dir, 'nothing-here'), '--quiet']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/holds no run \(no config\.json\); nothing to resume/);
  });

  it('starting a run in a directory that already holds one', async () => {
    const run = await finishedRun();
    const before = fs.readFileSync(runFiles(run).metrics, 'utf8');
    const config = writeConfig(dir, 'again.json', tinyConfig());
    const r = await runCli(['train', '--config', config, '--out', run, '--quiet']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`continue it with --resume ${run}`);
    expect(fs.readFileSync(runFiles(run).metrics, 'utf8')).toBe(before);
  });

  it.each([
    ['seed', '"0"', /"seed" must be a number, got the string "0"/],
    ['dataSeed', '"0"', /"dataSeed" must be a number, got the string "0"/],
    ['lr', '"0.1"', /"lr" must be a number, got the string "0.1"/],
    ['augment', '1', /"augment" must be true or false, got 1/],
    ['lrr', '0.1', /unknown field "lrr"; the fields are model, /],
  ])('a config file whose "%s" is %s is refused, naming the file and the field', async (field, value, why) => {
    const file = path.join(dir, `typed-${field}.json`);
    fs.writeFileSync(file, JSON.stringify(tinyConfig()).replace(/}$/, `,"${field}":${value}}`));
    await refused(['--config', file], new RegExp(`^error: ${file}: ${why.source}`));
  });

  it('a config file that is not JSON names the file', async () => {
    const file = path.join(dir, 'cut.json');
    fs.writeFileSync(file, JSON.stringify(tinyConfig()).slice(0, 40));
    await refused(['--config', file], new RegExp(`^error: ${file} is not valid JSON`));
  });
});

describe('a run directory edited or cut short by hand', () => {
  let run: string;
  beforeAll(async () => {
    run = path.join(dir, 'edited');
    await train(tinyConfig({ steps: 20 }), run, { quiet: true });
  });
  const resumeFails = async (why: RegExp) => {
    const r = await runCli(['train', '--resume', run, '--quiet']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(why);
  };
  const editing = async (file: string, edit: (text: string) => string, check: () => Promise<void>) => {
    const before = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, edit(before));
    try {
      await check();
    } finally {
      fs.writeFileSync(file, before);
    }
  };

  it('config.json with "seed": "0" is refused, naming config.json and the field', () =>
    editing(runFiles(run).config, (t) => t.replace('"seed": 0', '"seed": "0"'), () => resumeFails(new RegExp(`${runFiles(run).config}, "config": "seed" must be a number, got the string "0"`))));

  it('a cut config.json is named, with what to do', () =>
    editing(runFiles(run).config, (t) => t.slice(0, 100), () => resumeFails(new RegExp(`${runFiles(run).config} is not valid JSON .*; restore it, or remove ${run} and start the run again`))));

  it('a cut summary.json is named; deleting it, as the message says, makes the resume evaluate the end again, without a duplicate', async () => {
    const metrics = fs.readFileSync(runFiles(run).metrics, 'utf8');
    const summary = fs.readFileSync(runFiles(run).summary, 'utf8');
    await editing(runFiles(run).summary, (t) => t.slice(0, 30), () => resumeFails(new RegExp(`${runFiles(run).summary} is not valid JSON .*; delete it and run \`ilr train --resume ${run}\``)));
    fs.rmSync(runFiles(run).summary);
    const r = await runCli(['train', '--resume', run, '--quiet']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(fs.readFileSync(runFiles(run).metrics, 'utf8')).toBe(metrics);
    expect(fs.readFileSync(runFiles(run).summary, 'utf8')).toBe(summary);
  });

  it('--resume of a finished run does nothing: no second final evaluation', async () => {
    const metrics = fs.readFileSync(runFiles(run).metrics, 'utf8');
    const r = await runCli(['train', '--resume', run, '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/20 steps, test loss/);
    expect(fs.readFileSync(runFiles(run).metrics, 'utf8')).toBe(metrics);
  });
});

describe('flags given with --resume', () => {
  it('flags that would change the trajectory are refused by name, and nothing is touched', async () => {
    const run = await finishedRun();
    const config = fs.readFileSync(runFiles(run).config, 'utf8');
    const r = await runCli(['train', '--resume', run, '--lr', '5', '--steps', '1000', '--ep', 'cuda', '--seed', '3', '--quiet']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--resume continues the run in .* as .*config\.json describes it; --lr, --seed would change its trajectory or its directory\. It takes only --steps, --epochs, --ep, --threads, --quiet/);
    expect(fs.readFileSync(runFiles(run).config, 'utf8')).toBe(config);
  });

  it('--config with other flags refuses them by name', async () => {
    const config = writeConfig(dir, 'whole.json', tinyConfig());
    const r = await runCli(['train', '--config', config, '--lr', '5', '--out', path.join(dir, 'never'), '--quiet']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`--config ${config} holds the whole training config; --lr would not be used. It takes only --out, --continue, --ep, --threads, --quiet, --tensorboard`);
    expect(fs.existsSync(path.join(dir, 'never'))).toBe(false);
  });

  it('--steps extends a finished run: its weights end as those of a run that long from the start; config.json records the change', async () => {
    const run = path.join(dir, 'extended');
    const long = await train(tinyConfig({ steps: 30 }), path.join(dir, 'long'), { quiet: true });
    await train(tinyConfig({ steps: 20 }), run, { quiet: true });
    const r = await runCli(['train', '--resume', run, '--steps', '30', '--threads', '1', '--quiet']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    const expected = { spec: cnn4, layout: modelLayout(cnn4, input) };
    const got = loadCheckpoint(ckpt(run, 30), expected);
    const want = loadCheckpoint(ckpt(long.runDir, 30), expected);
    for (const [name, t] of want.state) expect([name, Buffer.from(got.state.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer))]).toEqual([name, true]);
    const record = JSON.parse(fs.readFileSync(runFiles(run).config, 'utf8'));
    expect(record.config.steps).toBe(30);
    expect(record.resumed).toEqual([expect.objectContaining({ changed: { steps: 30 } })]);
    expect(JSON.parse(fs.readFileSync(runFiles(run).summary, 'utf8')).steps).toBe(30);
  });

  it('--steps below the steps done is refused', async () => {
    const run = await finishedRun();
    const r = await runCli(['train', '--resume', run, '--steps', '10', '--quiet']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`--steps 10: the run in ${run} has already done 20 steps`);
  });
});

describe('messages', () => {
  it('ilr export of a missing or invalid checkpoint prints one line, not the CLI library\'s source', async () => {
    const text = path.join(dir, 'not-a-checkpoint.safetensors');
    fs.writeFileSync(text, 'hello');
    for (const [file, why] of [[path.join(dir, 'missing.safetensors'), 'no such file'], [text, 'not a valid safetensors file']]) {
      const r = await runCli(['export', '--checkpoint', file]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`^error: ${file}: ${why}[^\n]*\n$`));
    }
  });

  it('ilr export names a loader that scripts/safetensors_io.py has', async () => {
    const run = await finishedRun();
    const r = await runCli(['export', '--checkpoint', ckpt(run, 10), '--format', 'safetensors', '--out', path.join(dir, 'sd2.safetensors')]);
    const loader = /from safetensors_io import (\w+)/.exec(r.stdout)![1];
    expect(fs.readFileSync(path.join(ROOT, 'scripts', 'safetensors_io.py'), 'utf8')).toContain(`def ${loader}(path)`);
  });

  it('ilr reproduce --only with an unknown figure fails before running anything, listing the figures', async () => {
    const r = await runCli(['reproduce', '--only', 'nosuch', '--out', path.join(dir, 'report')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Argument: only, Given: "nosuch", Choices: "toy", /);
    expect(fs.existsSync(path.join(dir, 'report'))).toBe(false);
  });
});
