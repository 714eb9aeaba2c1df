/** How numbers and durations are written for people: verdicts, reports, estimates, progress bars. */

/** A number to 3 significant digits, in exponent form when small or large. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(2) : Number(x.toPrecision(3)).toString();
}

/**
 * A duration: `7.3 s`, `4 min 05 s`, `2 h 03 min`, past two days `3.5 days` (paper-scale
 * estimates); `?` when unknown (an ETA before the first tick).
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, seconds);
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s >= 48 * 3600) return `${fmt(s / 86400)} days`;
  const whole = Math.round(s);
  const m = Math.floor(whole / 60);
  if (m < 60) return `${m} min ${String(whole % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}
