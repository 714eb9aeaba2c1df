/** Schedules as data (src/train/schedule.ts): every kind, units, the paper's names, and errors. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { paperSchedule, parseSchedule, Schedule, scheduleAt, validateSchedule } from '../../src/train/schedule';
import { resolveConfig } from '../../src/train/config';

const BASE = { lr: 0.1, wd: 5e-4 };
const SPE = 10; // steps per epoch
const at = (s: Schedule, step: number) => scheduleAt(s, BASE, step, SPE);
const close = (a: number, b: number) => expect(a).toBeCloseTo(b, 12);

describe('scheduleAt', () => {
  it('constant: the base values at every step', () => {
    for (const step of [0, 1, 99, 10_000]) expect(at({ kind: 'constant' }, step)).toEqual(BASE);
  });

  it('multistep in epochs: LR and WD change at their own milestones, at epoch boundaries', () => {
    const s: Schedule = { kind: 'multistep', lrMilestones: [3, 5], wdMilestones: [2] };
    close(at(s, 19).wd, 5e-4); // epoch 1
    close(at(s, 20).wd, 5e-5); // epoch 2 starts: WD ÷10
    close(at(s, 29).lr, 0.1);
    close(at(s, 30).lr, 0.01); // epoch 3
    close(at(s, 49).lr, 0.01);
    close(at(s, 50).lr, 0.001); // epoch 5: second LR drop
    close(at(s, 50).wd, 5e-5); // WD dropped once only
  });

  it('multistep with other factors and unit step', () => {
    const s: Schedule = { kind: 'multistep', unit: 'step', lrMilestones: [3], lrFactor: 0.5, wdMilestones: [4, 6], wdFactor: 2 };
    close(at(s, 2).lr, 0.1);
    close(at(s, 3).lr, 0.05);
    close(at(s, 4).wd, 1e-3);
    close(at(s, 6).wd, 2e-3);
  });

  it('cosine: from lr to lr·minFactor over `length` units, smooth within an epoch, flat after', () => {
    const s: Schedule = { kind: 'cosine', length: 4, minFactor: 0.1 };
    close(at(s, 0).lr, 0.1);
    close(at(s, 20).lr, 0.1 * (0.1 + 0.9 * 0.5)); // half-way: epoch 2 of 4
    close(at(s, 5).lr, 0.1 * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * 0.5 / 4))));
    close(at(s, 40).lr, 0.01);
    close(at(s, 400).lr, 0.01);
    close(at(s, 17).wd, 5e-4);
    const steps: Schedule = { kind: 'cosine', unit: 'step', length: 8 };
    close(at(steps, 4).lr, 0.05);
    close(at(steps, 8).lr, 0);
  });

  it('exponential: LR = lr·lrScale·lrRate^t, WD = wd·wdRate^t (ExpLR, claim 8 in docs/science.md)', () => {
    const alpha = 1.01;
    const s: Schedule = { kind: 'exponential', unit: 'step', lrScale: 1 / alpha, lrRate: alpha ** -2 };
    for (const t of [0, 1, 7, 100]) close(at(s, t).lr, 0.1 * alpha ** (-2 * t - 1));
    const e: Schedule = { kind: 'exponential', lrRate: 0.5, wdRate: 2 };
    close(at(e, 9).lr, 0.1); // still epoch 0
    close(at(e, 25).lr, 0.025); // epoch 2
    close(at(e, 25).wd, 2e-3);
  });

  it('piecewise: absolute values from each point on, in any order, each key independent', () => {
    const s: Schedule = { kind: 'piecewise', unit: 'step', points: [{ at: 50, wd: 0 }, { at: 0, lr: 0.2 }, { at: 20, lr: 0.05 }] };
    expect(at(s, 0)).toEqual({ lr: 0.2, wd: 5e-4 });
    expect(at(s, 19)).toEqual({ lr: 0.2, wd: 5e-4 });
    expect(at(s, 20)).toEqual({ lr: 0.05, wd: 5e-4 });
    expect(at(s, 50)).toEqual({ lr: 0.05, wd: 0 });
    const late: Schedule = { kind: 'piecewise', points: [{ at: 1, lr: 1 }] };
    expect(at(late, 9)).toEqual(BASE); // epoch 0: before the first point, the base values
    expect(at(late, 10).lr).toBe(1);
  });

  it('epoch vs step units: the same milestone number means different steps', () => {
    const e: Schedule = { kind: 'multistep', unit: 'epoch', lrMilestones: [3] };
    const s: Schedule = { kind: 'multistep', unit: 'step', lrMilestones: [3] };
    close(at(e, 3).lr, 0.1);
    close(at(s, 3).lr, 0.01);
    close(at(e, 30).lr, 0.01);
    // A schedule is a pure function of the step: resuming needs no state.
    expect(at(e, 31)).toEqual(at(e, 31));
  });
});

describe("the paper's wd_x_y_lr_z_u names", () => {
  it('parses WD and LR milestones, in epochs, factor 10', () => {
    expect(paperSchedule('wd_40_80_lr_120_160')).toEqual({ kind: 'multistep', unit: 'epoch', lrMilestones: [120, 160], wdMilestones: [40, 80], lrFactor: 0.1, wdFactor: 0.1 });
    expect(paperSchedule('wd_0_lr_0')).toMatchObject({ lrMilestones: [0], wdMilestones: [0] });
    expect(paperSchedule('lr_80_120')).toMatchObject({ lrMilestones: [80, 120], wdMilestones: [] });
    expect(paperSchedule('wd_100')).toMatchObject({ lrMilestones: [], wdMilestones: [100] });
    expect(paperSchedule('wd_1_2_3_lr_4')).toMatchObject({ wdMilestones: [1, 2, 3], lrMilestones: [4] });
  });

  it('rejects what is not of that form', () => {
    for (const bad of ['', 'wd', 'lr_', 'wd_x', 'wd_40_lr', 'lr_40_wd_20', 'wd_-1', 'cosine', 'wd_4.5']) expect(paperSchedule(bad)).toBeUndefined();
  });

  it('parseSchedule takes the name and it behaves as the paper says', () => {
    const s = parseSchedule('wd_2_lr_3');
    close(at(s, 19).wd, 5e-4);
    close(at(s, 20).wd, 5e-5);
    close(at(s, 30).lr, 0.01);
    close(at(s, 30).wd, 5e-5);
  });
});

describe('parseSchedule and validateSchedule', () => {
  it('accepts constant, JSON text and a JSON file', () => {
    expect(parseSchedule('constant')).toEqual({ kind: 'constant' });
    expect(parseSchedule(' {"kind":"cosine","length":200} ')).toEqual({ kind: 'cosine', length: 200 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ilr-sched-'));
    const f = path.join(dir, 's.json');
    fs.writeFileSync(f, JSON.stringify({ kind: 'exponential', unit: 'step', lrRate: 1.0001 }));
    expect(parseSchedule(f)).toEqual({ kind: 'exponential', unit: 'step', lrRate: 1.0001 });
    fs.rmSync(dir, { recursive: true });
  });

  it('says what is wrong and shows valid examples', () => {
    const cases: [string, RegExp][] = [
      ['wd_x_lr_1', /not JSON, not a file, and not of the form wd_x_y_lr_z_u/],
      ['{"kind":"cosine"', /invalid JSON/],
      ['{"kind":"linear"}', /unknown kind "linear"/],
      ['{"kind":"cosine"}', /"length" is required/],
      ['{"kind":"cosine","length":0}', /"length" must be positive/],
      ['{"kind":"multistep","lrMilestones":[10,-1]}', /"lrMilestones" must be a list of non-negative numbers/],
      ['{"kind":"multistep","lrMilestones":30}', /must be a list/],
      ['{"kind":"exponential"}', /"lrRate" is required/],
      ['{"kind":"exponential","lrRate":-1}', /"lrRate" must be a non-negative number/],
      ['{"kind":"constant","unit":"epochs"}', /"unit" must be "epoch" or "step"/],
      ['{"kind":"piecewise","points":[]}', /"points" must be a non-empty list/],
      ['{"kind":"piecewise","points":[{"lr":1}]}', /each point is/],
      ['[1,2]', /not JSON, not a file/],
    ];
    for (const [text, why] of cases) {
      expect(() => parseSchedule(text)).toThrow(why);
      if (text.startsWith('{"kind') && text.endsWith('}')) expect(() => parseSchedule(text)).toThrow(/Examples: .*wd_40_80_lr_120_160/);
    }
    expect(() => validateSchedule(null)).toThrow(/not an object/);
    expect(() => validateSchedule('cosine')).toThrow(/not an object/);
  });

  it('resolveConfig rejects a bad schedule before any work starts', () => {
    expect(() => resolveConfig({ model: 'cnn4', dataset: 'synthetic', steps: 10, schedule: { kind: 'cosine' } as unknown as Schedule })).toThrow(/"length" is required/);
  });
});
