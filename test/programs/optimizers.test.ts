/**
 * The optimizer registry: the state each optimizer keeps (checkpoint names and shapes), the
 * settings torch would refuse, and the rotational equilibria it predicts. The updates themselves
 * are checked against torch.optim in test/bridge/torch.test.ts.
 */
import { modelSpec } from '../../src/nn/spec';
import { OptimizerConfig, optimizerDef, OPTIMIZERS } from '../../src/programs/optimizers';
import { StepEngine } from '../../src/train/engine';

describe('state slots', () => {
  const slots = async (optimizer: OptimizerConfig) => {
    const engine = await StepEngine.create({ spec: modelSpec('cnn4-si', { inChannels: 1 }), input: [1, 8, 8], batch: 2, optimizer, runtime: { threads: 1 } });
    const out = engine.slots.filter((s) => s.param.name === 'conv2.weight').map((s) => `${s.key}[${s.shape}]`);
    await engine.release();
    return out;
  };
  it('sgd keeps a momentum buffer only with momentum; sgdw the same', async () => {
    expect(await slots({ name: 'sgd', momentum: 0 })).toEqual([]);
    expect(await slots({ name: 'sgdw', momentum: 0.9, nesterov: true })).toEqual(['optimizer.momentum_buffer.conv2.weight[64,32,3,3]']);
  });
  it('adam and adamw keep torch\'s step (a scalar per tensor), exp_avg and exp_avg_sq', async () => {
    for (const name of ['adam', 'adamw'] as const) {
      expect(await slots({ name, momentum: 0 })).toEqual(['optimizer.step.conv2.weight[]', 'optimizer.exp_avg.conv2.weight[64,32,3,3]', 'optimizer.exp_avg_sq.conv2.weight[64,32,3,3]']);
    }
  });
});

it('settings torch refuses are refused, naming the optimizer and what to change', () => {
  const check = (c: OptimizerConfig) => () => optimizerDef(c.name).check(c);
  expect(check({ name: 'sgd', momentum: 0, nesterov: true })).toThrow(/optimizer sgd: Nesterov momentum needs a momentum > 0 \(--momentum\)/);
  expect(check({ name: 'sgdw', momentum: 1 })).toThrow(/optimizer sgdw: momentum must be in \[0, 1\)/);
  expect(check({ name: 'adamw', momentum: 0.9 })).toThrow(/optimizer adamw: momentum and nesterov belong to sgd and sgdw; Adam's momentum is β₁ \(--betas\)/);
  expect(check({ name: 'adam', momentum: 0, betas: [0.9, 1] })).toThrow(/betas must be in \[0, 1\)/);
  expect(check({ name: 'adam', momentum: 0, eps: 0 })).toThrow(/eps must be positive/);
  expect(() => optimizerDef('lion')).toThrow(/unknown optimizer "lion": known ones are sgd, sgdw, adamw, adam/);
  expect(Object.keys(OPTIMIZERS)).toEqual(['sgd', 'sgdw', 'adamw', 'adam']);
});

describe('rotational equilibrium (Kosson et al. 2023)', () => {
  const eq = (c: OptimizerConfig, lr: number, wd: number, size = 1000) => optimizerDef(c.name).equilibrium(c, lr, wd, size);
  it('SGD: √(2ηλ); heavy-ball momentum β: √(2ηλ/(1+β)), the same for decoupled WD at ηλ/(1−β)', () => {
    expect(eq({ name: 'sgd', momentum: 0 }, 0.1, 5e-4)!.angularUpdate).toBeCloseTo(Math.sqrt(1e-4), 12);
    expect(eq({ name: 'sgd', momentum: 0.9 }, 0.1, 5e-4)!.angularUpdate).toBeCloseTo(Math.sqrt(1e-4 / 1.9), 12);
    expect(eq({ name: 'sgdw', momentum: 0.9 }, 0.1, 5e-3)!.angularUpdate).toBeCloseTo(Math.sqrt(1e-4 / 1.9), 12);
    expect(eq({ name: 'sgd', momentum: 0.9 }, 0.1, 5e-4)!.norm).toBeUndefined();
    expect(eq({ name: 'sgd', momentum: 0.9, nesterov: true }, 0.1, 5e-4)).toBeUndefined();
  });
  it('AdamW (lr 1e-3, λ 0.5, β₁ 0.9): 7.25e-3 rad, and norms √(ηC/(2λ)) of 0.54, 4.29, 8.59 for the calibration CNN\'s 288, 18432, 73728 weights', () => {
    const adamw: OptimizerConfig = { name: 'adamw', momentum: 0, betas: [0.9, 0.999] };
    expect(eq(adamw, 1e-3, 0.5)!.angularUpdate).toBeCloseTo(7.25e-3, 5);
    expect([288, 18432, 73728].map((c) => Number(eq(adamw, 1e-3, 0.5, c)!.norm!.toFixed(2)))).toEqual([0.54, 4.29, 8.59]);
  });
  it('Adam with L2 weight decay predicts no common equilibrium', () => {
    expect(eq({ name: 'adam', momentum: 0 }, 1e-3, 0.5)).toBeUndefined();
  });
});
