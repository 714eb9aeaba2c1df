/** Summary statistics shared by the bench, the dry run's estimate and the figures' checks. */

/** The median (the mean of the two middle values for an even count; NaN for none). */
export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
