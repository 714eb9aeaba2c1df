/** Small ONNX files written by hand, as torch.onnx.export writes them, for the importer's tests. */
import { onnx } from 'onnx-proto';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
export const A = onnx.AttributeProto.AttributeType;

export interface Init {
  name: string;
  dims: number[];
  values?: number[];
  type?: number;
}

const tensor = ({ name, dims, values, type = FLOAT }: Init): onnx.ITensorProto => {
  const size = dims.reduce((a, b) => a * b, 1);
  const data = values ?? Array.from({ length: size }, (_, i) => (i % 7) / 7);
  return type === INT64 ? { name, dims, dataType: INT64, int64Data: data } : { name, dims, dataType: FLOAT, floatData: data };
};

const ints = (name: string, v: number[]): onnx.IAttributeProto => ({ name, type: A.INTS, ints: v });
const float = (name: string, v: number): onnx.IAttributeProto => ({ name, type: A.FLOAT, f: v });
export const node = (opType: string, input: string[], output: string[], attribute: onnx.IAttributeProto[] = [], name = `/${opType}_${output[0]}`): onnx.INodeProto => ({ opType, input, output, attribute, name });
const valueInfo = (name: string, dims: (number | string)[]): onnx.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
});

/** conv1 → bn1 → ACT → MaxPool → conv2 → bn2 → Relu → GlobalAveragePool → Flatten → fc, as torch.onnx.export writes it. */
export function smallNet(o: { act?: 'Relu' | 'Clip'; input?: (number | string)[]; conv1In?: number; classes?: number; opset?: number; extra?: onnx.INodeProto[]; inits?: Init[]; conv2Groups?: number } = {}): onnx.IModelProto {
  // conv2 with groups (8: depthwise) is strided, as MobileNet's are.
  const groups = o.conv2Groups ?? 1;
  const bn = (prefix: string, c: number): Init[] => ['weight', 'bias', 'running_mean', 'running_var'].map((k) => ({ name: `${prefix}.${k}`, dims: [c] }));
  const bnNode = (x: string, prefix: string, y: string) =>
    node('BatchNormalization', [x, ...['weight', 'bias', 'running_mean', 'running_var'].map((k) => `${prefix}.${k}`)], [y], [float('epsilon', 1e-5), float('momentum', 0.9)]);
  const classes = o.classes ?? 10;
  const act = o.act === 'Clip' ? node('Clip', ['b1', 'zero', 'six'], ['a1']) : node('Relu', ['b1'], ['a1']);
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: o.opset ?? 17 }],
    graph: {
      name: 'small',
      input: [valueInfo('input.1', o.input ?? [2, 3, 16, 16])],
      output: [valueInfo('logits', [2, classes])],
      initializer: [
        { name: 'conv1.weight', dims: [8, o.conv1In ?? 3, 3, 3] },
        ...bn('bn1', 8),
        { name: 'conv2.weight', dims: [8, 8 / groups, 3, 3] },
        ...bn('bn2', 8),
        { name: 'fc.weight', dims: [classes, 8] },
        { name: 'fc.bias', dims: [classes] },
        { name: 'zero', dims: [], values: [0] },
        { name: 'six', dims: [], values: [6] },
        ...(o.inits ?? []),
      ].map(tensor),
      node: [
        node('Conv', ['input.1', 'conv1.weight'], ['c1'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), ints('strides', [1, 1])]),
        bnNode('c1', 'bn1', 'b1'),
        act,
        node('MaxPool', ['a1'], ['p1'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), ints('strides', [2, 2])]),
        node('Conv', ['p1', 'conv2.weight'], ['c2'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), ...(groups > 1 ? [ints('strides', [2, 2]), { name: 'group', type: A.INT, i: groups }] : [])]),
        bnNode('c2', 'bn2', 'b2'),
        node('Relu', ['b2'], ['a2']),
        node('GlobalAveragePool', ['a2'], ['g']),
        node('Flatten', ['g'], ['f'], [{ name: 'axis', type: A.INT, i: 1 }]),
        ...(o.extra ?? []),
        node('Gemm', ['f', 'fc.weight', 'fc.bias'], ['logits'], [float('alpha', 1), float('beta', 1), { name: 'transB', type: A.INT, i: 1 }]),
      ],
    },
  };
}
