/**
 * ORT's NCHWc block size on this CPU: its blocked-layout kernels (com.microsoft.nchwc) work on
 * blocks of 16 channels with AVX-512 and 8 with AVX2. Measured once per process by running a
 * ReorderInput of 4 channels, which pads them to one block; 0 where the kernels are missing.
 */
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { NCHWC_DOMAIN } from '../graph/ir';
import { IR_VERSION, OPSET } from '../graph/onnx';

let blockSize: Promise<number> | undefined;

export function nchwcBlockSize(): Promise<number> {
  blockSize ??= probe();
  return blockSize;
}

async function probe(): Promise<number> {
  const float = onnx.TensorProto.DataType.FLOAT;
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }, { domain: NCHWC_DOMAIN, version: 1 }],
    graph: {
      name: 'nchwc_probe',
      node: [{ opType: 'ReorderInput', domain: NCHWC_DOMAIN, input: ['x'], output: ['y'] }],
      input: [{ name: 'x', type: { tensorType: { elemType: float, shape: { dim: [1, 4, 1, 1].map((d) => ({ dimValue: d })) } } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: float } } }],
    },
  });
  try {
    const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish(), { executionProviders: ['cpu'] });
    const y = (await session.run({ x: new ort.Tensor('float32', new Float32Array(4), [1, 4, 1, 1]) })).y;
    await session.release();
    // A block of fewer than 8 channels means no blocked kernels worth using.
    return y.dims[1] >= 8 ? y.dims[1] : 0;
  } catch {
    return 0;
  }
}
