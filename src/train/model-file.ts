/**
 * An imported model's file in its run directory. A fresh run copies the file to `<run>/model.onnx`
 * (atomically) and records its SHA-256 in config.json (`modelSha256`); the run, and every resume
 * of it, reads the copy. So a resume or a Slurm task never depends on the original path, and a
 * copy whose content changed is refused. Zoo models pass through unchanged.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../io/files';
import { isImportedName } from '../nn/imported';
import type { TrainConfig } from './config';

export const RUN_MODEL_FILE = 'model.onnx';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** `recorded`: the config as config.json keeps it (the original path, the SHA-256); `used`: the one the run trains (the copy). */
export function pinModelFile(c: TrainConfig, runDir: string, fresh: boolean): { recorded: TrainConfig; used: TrainConfig } {
  if (!isImportedName(c.model)) return { recorded: c, used: c };
  const copy = path.join(runDir, RUN_MODEL_FILE);
  let recorded = c;
  if (fresh) {
    const bytes = fs.readFileSync(c.model);
    const hash = sha256(bytes);
    if (c.modelSha256 && c.modelSha256 !== hash) {
      throw new Error(`${c.model} has sha256 ${hash.slice(0, 12)}…, but the config asks for ${c.modelSha256.slice(0, 12)}… (modelSha256): the file changed; restore it, or drop modelSha256 from the config`);
    }
    writeFileAtomic(copy, bytes);
    recorded = { ...c, modelSha256: hash };
  } else {
    if (!fs.existsSync(copy)) throw new Error(`${copy}, the run's copy of its model ${c.model}, is missing; restore it (sha256 ${c.modelSha256 ?? '?'}), or start a new run`);
    const hash = sha256(fs.readFileSync(copy));
    if (hash !== c.modelSha256) {
      throw new Error(`${copy} changed since the run started (sha256 ${(c.modelSha256 ?? '?').slice(0, 12)}… in config.json, now ${hash.slice(0, 12)}…); restore it, or start a new run`);
    }
  }
  return { recorded, used: { ...recorded, model: copy } };
}
