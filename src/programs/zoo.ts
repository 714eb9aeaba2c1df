/** The model zoo (models/zoo.json) and every program built for one of its entries. */
import * as fs from 'fs';
import * as path from 'path';
import { Graph } from '../graph/ir';
import { InputShape } from '../nn/model';
import { modelSpec } from '../nn/spec';
import { applyGraph, batchStatsGraph, evaluateGraph, gradientGraph, trainStepGraph } from './programs';

export interface ZooEntry {
  name: string;
  input: InputShape;
  batch: number;
  description: string;
}

export const ZOO: ZooEntry[] = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'models', 'zoo.json'), 'utf8')).models;

export function allPrograms({ name, input, batch }: ZooEntry): Graph[] {
  const shape = { spec: modelSpec(name, { inChannels: input[0] }), batch, input };
  return [
    trainStepGraph(shape, { name: 'sgd', momentum: 0 }),
    trainStepGraph(shape, { name: 'sgd', momentum: 0.9 }),
    gradientGraph(shape),
    applyGraph(shape, { name: 'sgd', momentum: 0.9 }),
    evaluateGraph(shape),
    batchStatsGraph(shape),
  ];
}
