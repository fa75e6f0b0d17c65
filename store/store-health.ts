import { Status } from '../core/status.js';

/**
 * Whether a store takes writes, and if not why: what the broker reports (admin, log) and registers by (a
 * store that takes no writes registers its topics read-only, so producers send elsewhere).
 */
export type StoreHealth =
  | { state: 'ok' }
  | {
      /**
       * 'paused': indexing waits out a storage failure (a consume queue or index write hit ENOSPC or EIO) and is
       * retried until it succeeds; writes are refused meanwhile, since what they stored could not be consumed.
       * 'failed': the commit log failed, or committed data does not index; writes are refused until the broker
       * restarts (recovery decides what the failure left).
       */
      state: 'paused' | 'failed';
      /** The status writes are refused with (DISK_FULL or STORE_FAILED). */
      status: number;
      /** Why, for people. */
      reason: string;
    };

export const HEALTHY: StoreHealth = { state: 'ok' };

/** The health of a store from its parts' failures, the worst first (a commit log failure, a stopped dispatcher, a paused one). */
export function storeHealth(
  commitLogFailure: { status: number; message: string } | undefined,
  dispatchError: Error | undefined,
  dispatchFault: (Error & { code?: string }) | undefined,
): StoreHealth {
  if (commitLogFailure) return { state: 'failed', status: commitLogFailure.status, reason: commitLogFailure.message };
  if (dispatchError) return { state: 'failed', status: Status.STORE_FAILED, reason: `indexing stopped: ${dispatchError.message}` };
  if (dispatchFault) {
    return {
      state: 'paused',
      status: dispatchFault.code === 'ENOSPC' ? Status.DISK_FULL : Status.STORE_FAILED,
      reason: `indexing paused, retried until it succeeds: ${dispatchFault.message}`,
    };
  }
  return HEALTHY;
}

export function sameHealth(a: StoreHealth, b: StoreHealth): boolean {
  if (a.state === 'ok' || b.state === 'ok') return a.state === b.state;
  return a.state === b.state && a.status === b.status && a.reason === b.reason;
}
