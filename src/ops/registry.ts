/**
 * The table of every op the IR knows. `satisfies Record<OpName, OpDef>` makes the compiler check
 * that the table and the name list agree, so there is no hand-kept registration to drift.
 */
import { OpDef } from '../graph/ir';
import { BatchNormTrain } from './batchnorm';
import { Conv, ConvTranspose, ConvWeightGrad } from './conv';
import { Add, Cast, Clip, Div, Equal, Exp, Greater, Log, Mul, Neg, Reciprocal, Relu, Sqrt, Sub, Where } from './elementwise';
import { Gemm, MatMul } from './matmul';
import { GroupNorm } from './groupnorm';
import { MaxPool, MaxPoolRouting } from './pool';
import { ArgMax, ReduceMean, ReduceSum } from './reduce';
import { Concat, Expand, Identity, Pad, Reshape, Slice, Transpose } from './shape';
import { LogSoftmax, OneHot } from './softmax';

export type OpName =
  | 'Add' | 'Sub' | 'Mul' | 'Div' | 'Neg' | 'Relu' | 'Sqrt' | 'Reciprocal' | 'Exp' | 'Log'
  | 'Equal' | 'Greater' | 'Cast' | 'Where' | 'Clip'
  | 'Conv' | 'ConvTranspose' | 'ConvWeightGrad' | 'MatMul' | 'Gemm'
  | 'MaxPool' | 'MaxPoolRouting'
  | 'Reshape' | 'Transpose' | 'Slice' | 'Pad' | 'Concat' | 'Expand' | 'Identity'
  | 'ReduceSum' | 'ReduceMean' | 'ArgMax'
  | 'LogSoftmax' | 'OneHot' | 'BatchNormTrain' | 'GroupNorm';

export const OPS = {
  Add, Sub, Mul, Div, Neg, Relu, Sqrt, Reciprocal, Exp, Log,
  Equal, Greater, Cast, Where, Clip,
  Conv, ConvTranspose, ConvWeightGrad, MatMul, Gemm,
  MaxPool, MaxPoolRouting,
  Reshape, Transpose, Slice, Pad, Concat, Expand, Identity,
  ReduceSum, ReduceMean, ArgMax,
  LogSoftmax, OneHot, BatchNormTrain, GroupNorm,
} satisfies Record<OpName, OpDef>;
