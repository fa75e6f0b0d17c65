/**
 * The replay window: a signed request carries its signer's time, and a verifier refuses one whose time lies
 * more than `windowMs` from its own clock, either way. A captured request can be replayed only within it.
 */

/** Default replay window: 60 s either way. */
export const DEFAULT_REPLAY_WINDOW_MS = 60_000;

/** Why `timestamp` is refused at time `now`, or undefined when it is within ±`windowMs`. */
export function timestampProblem(timestamp: unknown, now: number, windowMs: number): string | undefined {
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp)) return 'the request carries no Timestamp (ms)';
  const skew = timestamp - now;
  if (Math.abs(skew) > windowMs) return `the request's Timestamp is ${Math.abs(skew)} ms ${skew < 0 ? 'old' : 'ahead'}, outside the ${windowMs} ms window`;
  return undefined;
}
