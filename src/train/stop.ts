/**
 * A request to stop, from SIGINT or SIGTERM: the loop finishes its step, writes a checkpoint and
 * returns 'stopped'. Each handler is installed once, so a second signal of the same kind ends
 * the process at once (the default action), as a user pressing Ctrl-C twice expects.
 */
export interface StopSignal {
  /** The signal received, once one was. */
  readonly signal?: NodeJS.Signals;
  remove(): void;
}

export function stopOnSignals(): StopSignal {
  const stop: { signal?: NodeJS.Signals; remove(): void } = {
    remove: () => {
      for (const s of signals) process.removeListener(s, onSignal);
    },
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  const onSignal = (s: NodeJS.Signals) => {
    stop.signal ??= s;
  };
  for (const s of signals) process.once(s, onSignal);
  return stop;
}
