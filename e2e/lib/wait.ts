// Waiting in integration tests for a state the system reaches eventually: a probe polled within a bound.

import { setTimeout as sleep } from 'node:timers/promises';

export interface UntilOptions {
  /** Pause between probes (default 100 ms). */
  everyMs?: number;
  /** A probe that throws counts as "not yet" and its last error is quoted on timeout; otherwise it fails the wait. */
  retryErrors?: boolean;
  /** More context for the timeout message (a log tail, the last state seen). */
  detail?: () => string;
}

/**
 * Calls `probe` until it returns something other than undefined, null or false, and returns that;
 * throws once `ms` have passed without it.
 */
export async function until<T>(
  what: string,
  ms: number,
  probe: () => T | Promise<T>,
  opts: UntilOptions = {},
): Promise<Exclude<T, undefined | null | false>> {
  const end = Date.now() + ms;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v as Exclude<T, undefined | null | false>;
    } catch (err) {
      if (!opts.retryErrors) throw err;
      lastError = err;
    }
    if (Date.now() > end) {
      const why = lastError === undefined ? '' : `: ${lastError}`;
      const detail = opts.detail?.();
      throw new Error(`timed out after ${ms} ms waiting for ${what}${why}${detail ? `\n${detail}` : ''}`);
    }
    await sleep(opts.everyMs ?? 100);
  }
}
