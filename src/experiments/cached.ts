/**
 * A figure's computed result (a simulation, measurements of its runs) cached in its directory,
 * with the key of what produced it (its preset, its planned runs) stored beside it: a result
 * made by other settings, such as `make reproduce SCALE=smoke` before `make reproduce`, is
 * computed again, never reused. Written atomically (src/io/files.ts).
 */
import * as fs from 'fs';
import { readJsonFile, writeFileAtomic } from '../io/files';

interface Stored<T> {
  key: unknown;
  result: T;
}

export interface CachedResult<T> {
  /** Computes the result and stores it, unless the file already holds the one for this key. */
  ensure(compute: () => Promise<T>): Promise<void>;
  /** The stored result; throws, naming the file, if it is missing or was made for another key. */
  read(): T;
}

export function cachedResult<T>(file: string, key: unknown): CachedResult<T> {
  const keyText = JSON.stringify(key);
  const fix = 'run the figure again to compute it';
  const stored = (): Stored<T> | undefined => {
    if (!fs.existsSync(file)) return undefined;
    try {
      const s = JSON.parse(fs.readFileSync(file, 'utf8')) as Stored<T>;
      return JSON.stringify(s.key) === keyText ? s : undefined;
    } catch {
      return undefined; // a damaged cache is computed again
    }
  };
  return {
    async ensure(compute) {
      if (stored()) return;
      writeFileAtomic(file, JSON.stringify({ key, result: await compute() }) + '\n');
    },
    read() {
      if (!fs.existsSync(file)) throw new Error(`${file} does not exist; ${fix}`);
      const s = readJsonFile(file, fix) as Stored<T>;
      if (JSON.stringify(s.key) !== keyText) throw new Error(`${file} was computed with other settings than this figure's; ${fix}`);
      return s.result;
    },
  };
}
