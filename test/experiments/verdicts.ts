import type { Verdict } from '../../src/plot/report';

/** The one verdict whose check contains `name`: tests look checks up by what they say, not by position. */
export function verdictNamed(verdicts: readonly Verdict[], name: string): Verdict {
  const found = verdicts.filter((v) => v.check.includes(name));
  if (found.length !== 1) throw new Error(`${found.length} verdicts contain "${name}"; the checks are: ${verdicts.map((v) => v.check).join(' | ')}`);
  return found[0];
}

/** Whether the verdict named `name` passed. */
export const passedNamed = (verdicts: readonly Verdict[], name: string): boolean => verdictNamed(verdicts, name).passed;

/** The checks that failed, in full and in the report's order. */
export const failedChecks = (verdicts: readonly Verdict[]): string[] => verdicts.filter((v) => !v.passed).map((v) => v.check);

/**
 * The checks named (each name picks out exactly one), in full and in the report's order, so that
 * `expect(failedChecks(v)).toEqual(checksNamed(v, 'a', 'b'))` says a and b fail and every other
 * check passes, and a surprise prints the whole check.
 */
export function checksNamed(verdicts: readonly Verdict[], ...names: string[]): string[] {
  const named = new Set(names.map((name) => verdictNamed(verdicts, name)));
  return verdicts.filter((v) => named.has(v)).map((v) => v.check);
}
