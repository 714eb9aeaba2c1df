import type { Verdict } from '../../src/plot/report';

/** The one verdict whose check contains `name`: tests look checks up by what they say, not by position. */
export function verdictNamed(verdicts: readonly Verdict[], name: string): Verdict {
  const found = verdicts.filter((v) => v.check.includes(name));
  if (found.length !== 1) throw new Error(`${found.length} verdicts contain "${name}"; the checks are: ${verdicts.map((v) => v.check).join(' | ')}`);
  return found[0];
}

/** Whether the verdict named `name` passed. */
export const passedNamed = (verdicts: readonly Verdict[], name: string): boolean => verdictNamed(verdicts, name).passed;
