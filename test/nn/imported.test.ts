/**
 * The ONNX importer on small hand-written files: what it builds (parameters by state_dict name,
 * scale invariance read off the graph), and every bad or hostile file refused in one line that
 * names it, before anything is allocated or written. The torchvision models are in
 * test/bridge/imported.test.ts, against PyTorch.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { node, smallNet } from '../onnx-fixtures';
import { modelLayout } from '../../src/nn/model';
import { MAX_TENSOR_VALUES } from '../../src/nn/onnx-file';
import { ImportedSpec, modelSpec, specName } from '../../src/nn/spec';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ilr-import-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let count = 0;
function write(model: onnx.IModelProto | Uint8Array, name = `net${count++}.onnx`): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, model instanceof Uint8Array ? model : onnx.ModelProto.encode(model).finish());
  return file;
}

/** The one line the import fails with. */
function refusal(file: string, overrides = {}): string {
  try {
    modelSpec(file, overrides);
  } catch (e) {
    const message = (e as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    expect(message.startsWith(`${file}: `)).toBe(true);
    return message;
  }
  throw new Error(`${file} was imported`);
}

describe('an ONNX model as a model entry', () => {
  it('declares the parameters and buffers by their state_dict names, and reads scale invariance off the graph', () => {
    const file = write(smallNet());
    const spec = modelSpec(file, { inChannels: 3, numClasses: 10 }) as ImportedSpec;
    expect(spec).toMatchObject({ arch: 'onnx', inChannels: 3, numClasses: 10, bnEps: 1e-5, bnMomentum: 0.1, affine: true, frozenFc: false });
    expect(spec.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(specName(spec)).toBe(path.basename(file, '.onnx'));
    const layout = modelLayout(spec, [3, 16, 16]);
    expect(layout.params.map((p) => p.name)).toEqual(['conv1.weight', 'bn1.weight', 'bn1.bias', 'conv2.weight', 'bn2.weight', 'bn2.bias', 'fc.weight', 'fc.bias']);
    expect(layout.buffers.map((b) => b.name)).toEqual(['bn1.running_mean', 'bn1.running_var', 'bn2.running_mean', 'bn2.running_var']);
    // every conv feeds a BatchNorm: invariant alone and jointly
    const invariant = layout.params.filter((p) => p.scaleInvariantAlone).map((p) => p.name);
    expect(invariant).toEqual(['conv1.weight', 'conv2.weight']);
    expect(layout.params.filter((p) => p.scaleInvariant).map((p) => p.name)).toEqual(['conv1.weight', 'conv2.weight']);
  });

  it('ReLU and MaxPool keep the degree, Clip (ReLU6) does not: with conv2 → bn2 behind them, conv1 stays invariant only through ReLU', () => {
    // With bn1 removed conv1 reaches a norm layer only through ACT → MaxPool → conv2 → bn2.
    const withoutBn1 = (act: 'Relu' | 'Clip') => {
      const m = smallNet({ act });
      m.graph!.node = m.graph!.node!.filter((n) => n.opType !== 'BatchNormalization' || n.input![0] !== 'c1');
      m.graph!.node!.find((n) => n.output![0] === 'a1')!.input![0] = 'c1';
      m.graph!.initializer = m.graph!.initializer!.filter((t) => !t.name!.startsWith('bn1.'));
      return modelLayout(modelSpec(write(m)), [3, 16, 16]).params.find((p) => p.name === 'conv1.weight')!.scaleInvariantAlone;
    };
    expect(withoutBn1('Relu')).toBe(true);
    expect(withoutBn1('Clip')).toBe(false);
  });

  it('--si freezes the norm layers\' γ, β at 1, 0 and the last layer, with the zoo\'s fcScale 10', () => {
    const spec = modelSpec(write(smallNet()), { si: true });
    const params = modelLayout(spec, [3, 16, 16]).params;
    expect(params.filter((p) => p.trainable).map((p) => p.name)).toEqual(['conv1.weight', 'conv2.weight']);
    expect(params.find((p) => p.name === 'bn1.weight')!.init).toEqual({ kind: 'fill', value: 1 });
    expect(params.find((p) => p.name === 'bn1.bias')!.init).toEqual({ kind: 'fill', value: 0 });
    expect(params.find((p) => p.name === 'fc.weight')!.init).toEqual({ kind: 'uniform', bound: 10 / Math.sqrt(8) });
    expect(specName(spec)).toMatch(/-si$/);
    expect(specName(modelSpec('cnn4', { si: true }))).toBe('cnn4-si');
  });

  it('a dynamic batch is ours, dynamic channels come from the data', () => {
    const file = write(smallNet({ input: ['batch', 'channels', 16, 16] }));
    expect(refusal(file)).toMatch(/the input's channels are dynamic \(channels\); give the input shape \(--input C,H,W, or a data set\)/);
    expect(modelSpec(file, { inChannels: 3 }).inChannels).toBe(3);
  });
});

describe('bad input: one line naming the file and what to do', () => {
  it('not an ONNX file, a missing file, an opset outside 13–17', () => {
    expect(refusal(write(Buffer.from('PK\x03\x04 this is a zip, not a model')))).toMatch(/not an ONNX model .*; export one with torch.onnx.export/);
    expect(refusal(write(new Uint8Array(0)))).toMatch(/not an ONNX model/);
    expect(refusal(path.join(dir, 'missing.onnx'))).toMatch(/no such model file/);
    expect(refusal(write(smallNet({ opset: 11 })))).toMatch(/opset 11; the importer reads opsets 13 to 17: export with opset_version=17/);
  });

  it('every unsupported node, by op with its count and names', () => {
    const extra = [node('Softmax', ['f'], ['s1'], [], '/head/Softmax'), node('Softmax', ['s1'], ['s2'], [], '/head/Softmax_1'), node('Sigmoid', ['s2'], ['s3'], [], '/head/Sigmoid')];
    const message = refusal(write(smallNet({ extra })));
    expect(message).toMatch(/3 node\(s\) use ops the importer does not support: Softmax ×2 \(\/head\/Softmax, \/head\/Softmax_1\); Sigmoid ×1 \(\/head\/Sigmoid\)\. Supported: Conv, .*; change the module/);
  });

  it('a data set whose channels or classes do not fit the model', () => {
    const file = write(smallNet());
    expect(refusal(file, { inChannels: 1 })).toMatch(/the model takes 3 input channels, the data has 1: choose a data set with 3 channels, or export the model with a first conv of 1/);
    expect(refusal(file, { numClasses: 100 })).toMatch(/the model outputs 10 classes, the data set has 100: export it with num_classes=100/);
  });

  it('a stored tensor outside the layers the importer trains (a learned scale in a Mul) is refused, not frozen silently', () => {
    const extra = [node('Mul', ['f', 'head.scale'], ['f2'], [], '/head/Mul')];
    const m = smallNet({ extra, inits: [{ name: 'head.scale', dims: [8] }] });
    m.graph!.node!.at(-1)!.input![0] = 'f2';
    expect(refusal(write(m))).toMatch(/Mul node \/head\/Mul: reads the stored tensor head.scale; a parameter outside Conv, BatchNormalization, Gemm and MatMul is not supported/);
  });

  it('dropout in training mode, and an eval-mode export that folded BatchNorm away', () => {
    const dropout = [node('Dropout', ['f', 'ratio', 'training'], ['d'], [], '/classifier/Dropout'), node('Identity', ['d'], ['f2'])];
    const m = smallNet({ extra: dropout, inits: [{ name: 'ratio', dims: [], values: [0.2] }] });
    m.graph!.initializer!.push({ name: 'training', dims: [], dataType: onnx.TensorProto.DataType.BOOL, int32Data: [1] });
    m.graph!.node!.at(-1)!.input![0] = 'f2';
    expect(refusal(write(m))).toMatch(/Dropout node \/classifier\/Dropout: dropout \(p=0.2\) in training mode is not supported: .* Export with the dropout off/);
    m.graph!.initializer!.find((t) => t.name === 'ratio')!.floatData = [0];
    expect(() => modelSpec(write(m))).not.toThrow();

    const folded = smallNet();
    for (const t of folded.graph!.initializer!) if (t.name === 'conv2.weight') t.name = 'onnx::Conv_193';
    folded.graph!.node!.find((n) => n.input![1] === 'conv2.weight')!.input![1] = 'onnx::Conv_193';
    expect(refusal(write(folded))).toMatch(/Conv node .*: its parameter onnx::Conv_193 has no state_dict name: .*eval-mode export.*TrainingMode.TRAINING/);
  });
});

describe('a model file is untrusted', () => {
  it('tensor data stored outside the file (ONNX external data) is refused, wherever it points', () => {
    for (const location of ['../../etc/passwd', '/etc/passwd', 'weights.bin']) {
      const m = smallNet();
      const w = m.graph!.initializer!.find((t) => t.name === 'conv1.weight')!;
      w.floatData = [];
      w.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      w.externalData = [{ key: 'location', value: location }, { key: 'length', value: String(8 * 3 * 3 * 3 * 4) }];
      expect(refusal(write(m))).toMatch(/initializer conv1.weight is stored outside the file \(ONNX external data\), which is not read; save the model as one file/);
    }
  });

  it('declared sizes that would not fit are refused before anything is allocated', () => {
    // 2^40 values declared with no data behind them: refused from the dims alone.
    const huge = smallNet({ inits: [{ name: 'huge', dims: [2 ** 20, 2 ** 20], values: [] }] });
    expect(refusal(write(huge))).toMatch(new RegExp(`initializer huge declares the shape \\[1048576,1048576\\], more than the ${MAX_TENSOR_VALUES} values`));
    // a shape that does not match the bytes stored
    const short = smallNet({ inits: [{ name: 'short', dims: [1000], values: [1, 2, 3] }] });
    expect(refusal(write(short))).toMatch(/initializer short declares the shape \[1000\] \(1000 values\) but stores 3; the file is damaged/);
    // an input of absurd size
    expect(refusal(write(smallNet({ input: [2, 3, 2 ** 20, 2 ** 20] })))).toMatch(/input.1 declares the shape \[2,3,1048576,1048576\], more than the/);
  });
});
