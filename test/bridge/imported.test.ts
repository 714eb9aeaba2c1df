/**
 * Imported networks against the modules they were exported from: torchvision's resnet18, a
 * CIFAR vgg11_bn (avgpool → Identity, a 512→10 classifier) and mobilenet_v2, exported in
 * training mode at 32×32, imported, and compared with the original module in float64 (logits,
 * loss, every gradient); a trained imported model's checkpoint loads into resnet18 strictly and
 * gives the same eval logits. In CI (REQUIRE_TORCH=1) these run; they never skip there.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ParityReport, runParity, TorchModuleRef, torchModuleMetadata } from '../../src/bridge/parity';
import { runBridge, torchPython } from '../../src/bridge/python';
import { runOptimizerReplay } from '../../src/bridge/replay';
import { fullBatches, loadDataset } from '../../src/data';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors';
import { InputShape, modelLayout } from '../../src/nn/model';
import { evaluateGraph } from '../../src/programs/programs';
import { Program } from '../../src/runtime/session';
import { loadCheckpoint, rollingName } from '../../src/train/checkpoint';
import { resolveConfig } from '../../src/train/config';
import { runFiles } from '../../src/train/run-dir';
import { runSpec, train } from '../../src/train/trainer';
import { tmpDir } from '../cli';
import { itTorch } from '../helpers';

const NETS_PY = `
import torch, torchvision
import torch.nn as nn
import torch.nn.functional as F

def vgg11_bn(num_classes=10):
    m = torchvision.models.vgg11_bn(num_classes=num_classes)
    m.avgpool = torch.nn.Identity()
    m.classifier = torch.nn.Linear(512, num_classes)
    return m


class Small(nn.Module):
    """Small enough for a well-conditioned float32 replay: a conv, a grouped strided conv, MaxPool, ReLU6."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=2, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.relu6 = nn.ReLU6(inplace=True)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.relu6(self.bn2(self.conv2(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
`;

const EXPORT_PY = `
import sys, torch, torchvision
sys.path.insert(0, sys.argv[1])
import nets
models = {"resnet18": torchvision.models.resnet18(num_classes=10), "vgg11_bn": nets.vgg11_bn(),
          "mobilenet_v2": torchvision.models.mobilenet_v2(num_classes=10, dropout=0.0), "small": nets.Small()}
for name, m in models.items():
    torch.onnx.export(m.train(), torch.randn(2, 3, 32, 32), f"{sys.argv[1]}/{name}.onnx", opset_version=17,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
`;

let dir: string;
beforeAll(() => {
  dir = tmpDir('ilr-imported-');
  const py = torchPython();
  if (!py) return;
  fs.writeFileSync(path.join(dir, 'nets.py'), NETS_PY);
  const r = spawnSync(py, ['-c', EXPORT_PY, dir], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2' } });
  if (r.status !== 0) throw new Error(`exporting the torchvision models failed:\n${r.stderr}`);
}, 120_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const MODELS: { name: string; torch: () => TorchModuleRef }[] = [
  { name: 'resnet18', torch: () => ({ factory: 'torchvision.models:resnet18', kwargs: { num_classes: 10 } }) },
  { name: 'vgg11_bn', torch: () => ({ factory: `${dir}/nets.py:vgg11_bn`, kwargs: { num_classes: 10 } }) },
  { name: 'mobilenet_v2', torch: () => ({ factory: 'torchvision.models:mobilenet_v2', kwargs: { num_classes: 10, dropout: 0 } }) },
];

describe('imported torchvision models against the original module (float64, batch 8, 32×32)', () => {
  for (const m of MODELS.slice(0, 2)) {
    itTorch(`${m.name}: logits, loss and every gradient within 1e-4`, async () => {
      const r = await runParity({ model: path.join(dir, `${m.name}.onnx`), torch: m.torch(), batch: 8, seed: 1 });
      expect(Object.entries(r.errors).filter(([, e]) => e >= 1e-4)).toEqual([]);
      expect(r.ok).toBe(true);
    }, 120_000);
  }

  // MobileNetV2 is ill-conditioned in float32 at this size: PyTorch's own float32 gradients differ
  // from its float64 ones by 3e-3 to 8e-3 (measured over seeds 1–3 at batch 8 and 16, and at
  // 64×64; ~1 ReLU6 input per run within 1e-6 of a kink, and 52 BatchNorms over 1×1 maps). The
  // forward pass is not: the logits and the loss are held to 1e-4, and the gradients to a few
  // times PyTorch's own float32 error (a wrong rule is off by O(1)).
  itTorch('mobilenet_v2: logits and loss within 1e-4, gradients within 4× PyTorch\'s own float32 error', async () => {
    const m = MODELS[2];
    const r = await runParity({ model: path.join(dir, `${m.name}.onnx`), torch: m.torch(), batch: 8, seed: 1 });
    expect(r.errors.logits).toBeLessThan(1e-4);
    expect(r.errors.loss).toBeLessThan(1e-4);
    expect(r.max_rel_err).toBeLessThan(Math.max(1e-4, 4 * r.baseline_f32_max_rel_err!));
  }, 120_000);
});

// The replay runs on a small imported module: over several float32 steps the torchvision networks
// at batch 8 drift from float64 by 1e-2 in PyTorch's own float32 too (resnet18, 3 steps of sgd at
// lr 0.05: its conv weights; of adamw: up to 0.3). A ReLU tie is retried with the next seed, as
// for the zoo.
for (const [optimizer, lr, wd] of [[{ name: 'sgd', momentum: 0.9 }, 0.1, 5e-4], [{ name: 'adamw', momentum: 0 }, 1e-2, 5e-2]] as const) {
  itTorch(`the ${optimizer.name} replay of an imported module (conv, grouped conv, MaxPool, ReLU6): parameters, running statistics and optimizer state after 5 steps`, async () => {
    let r!: ParityReport;
    for (let seed = 1; seed <= 3; seed++) {
      r = await runOptimizerReplay({ model: path.join(dir, 'small.onnx'), torch: { factory: `${dir}/nets.py:Small`, kwargs: {} }, optimizer, steps: 5, lr, wd, batch: 8, input: [3, 16, 16], seed });
      if (r.ok || !r.relu_near_ties?.count) break;
    }
    expect(Object.entries(r.errors).filter(([, e]) => e >= 1e-4)).toEqual([]);
    expect(r.ok).toBe(true);
  }, 120_000);
}

itTorch('a trained imported resnet18: its checkpoint loads into torchvision.models.resnet18 strictly with the same eval logits', async () => {
  const input: InputShape = [3, 16, 16];
  const synthetic = { shape: input, numClasses: 10, trainCount: 64, testCount: 16, seed: 5 };
  const config = resolveConfig({ model: path.join(dir, 'resnet18.onnx'), dataset: 'synthetic', synthetic, batchSize: 8, steps: 4, logEvery: 2, checkpointEvery: 4, evalBatch: 16, evalTrainSubset: 16, momentum: 0.9, threads: 1 });
  const run = path.join(dir, 'run');
  await train(config, run, { quiet: true });
  const file = path.join(runFiles(run).checkpoints, rollingName(4));
  const test = await loadDataset('synthetic', 'test', { synthetic });
  const spec = runSpec(config, test);
  const layout = modelLayout(spec, input);
  const ck = loadCheckpoint(file, { spec, layout });

  const batch = fullBatches(test, { chunkSize: 8 }).next().value!;
  const program = await Program.create(evaluateGraph({ spec, batch: 8, input }), { threads: 1 });
  const feeds: Record<string, Float32Array> = {};
  for (const [k, v] of ck.state) feeds[k] = v.data as Float32Array;
  const logits = (await program.run({ ...feeds, input: batch.x, target: batch.y }, ['logits'])).logits as Float32Array;
  await program.release();

  // The checkpoint with the module named, as `ilr parity --torch` names it.
  const { tensors, metadata } = readSafetensors(file);
  const named = { ...metadata, ...torchModuleMetadata(MODELS[0].torch(), layout) };
  const withModule = path.join(dir, 'resnet18-step4.safetensors');
  writeSafetensors(withModule, tensors, named);
  const load = runBridge<{ ok: boolean; defaulted: string[]; non_finite: string[] }>(['load', '--file', withModule]);
  expect(load.status).toBe(0);
  expect(load.result.defaulted).toEqual([]); // num_batches_tracked included: a strict load_state_dict
  expect(load.result.non_finite).toEqual([]);

  tensors.set('input', { dtype: 'float32', shape: [8, ...input], data: batch.x });
  tensors.set('ours.logits', { dtype: 'float32', shape: [8, 10], data: logits });
  const logitsFile = path.join(dir, 'resnet18-logits.safetensors');
  writeSafetensors(logitsFile, new Map([...tensors].filter(([k]) => !k.startsWith('optimizer.'))), named);
  const r = runBridge<{ ok: boolean; errors: { logits: number } }>(['logits', '--file', logitsFile, '--tol', '1e-5']);
  expect(r.result.errors.logits).toBeLessThan(1e-5);
  expect(r.result.ok).toBe(true);
}, 240_000);
