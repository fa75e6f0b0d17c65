/** A bad timer or transaction option (same code as BrokerConfigError). */
export class TimerTxConfigError extends Error {
  readonly code = 'ECONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'TimerTxConfigError';
  }
}

/** Broker options of timer messages (delivery at a timestamp) and transactional messages. */
export interface TimerTxOptions {
  /** Farthest a message's `deliverAt` may lie in the future (default 7 days); beyond it a send is MESSAGE_ILLEGAL. */
  timerHorizonMs?: number;
  /** How often half messages without an outcome are checked with their producer group (default 60000 ms). */
  txCheckIntervalMs?: number;
  /** A half message is first checked this long after it was stored (default 6000 ms). */
  txCheckTimeoutMs?: number;
  /** Checks of one half message before `txCheckExhausted` decides it (default 15). */
  txMaxChecks?: number;
  /** What happens to a half message after txMaxChecks checks without an answer (default 'rollback'). */
  txCheckExhausted?: 'rollback' | 'commit';
}

export interface TimerTxSettings {
  timerHorizonMs: number;
  txCheckIntervalMs: number;
  txCheckTimeoutMs: number;
  txMaxChecks: number;
  txCheckExhausted: 'rollback' | 'commit';
}

export const DEFAULT_TIMER_HORIZON_MS = 7 * 24 * 3600 * 1000;

export const DEFAULT_TIMER_TX_SETTINGS: TimerTxSettings = {
  timerHorizonMs: DEFAULT_TIMER_HORIZON_MS,
  txCheckIntervalMs: 60_000,
  txCheckTimeoutMs: 6_000,
  txMaxChecks: 15,
  txCheckExhausted: 'rollback',
};

function positive(v: number | undefined, dflt: number, what: string): number {
  const x = v ?? dflt;
  if (!Number.isFinite(x) || x <= 0) throw new TimerTxConfigError(`${what} must be a positive number, got ${String(v)}`);
  return x;
}

export function resolveTimerTxOptions(o: TimerTxOptions): TimerTxSettings {
  const d = DEFAULT_TIMER_TX_SETTINGS;
  const exhausted = o.txCheckExhausted ?? d.txCheckExhausted;
  if (exhausted !== 'rollback' && exhausted !== 'commit') throw new TimerTxConfigError(`txCheckExhausted must be 'rollback' or 'commit', got ${String(o.txCheckExhausted)}`);
  const maxChecks = o.txMaxChecks ?? d.txMaxChecks;
  if (!Number.isInteger(maxChecks) || maxChecks < 0) throw new TimerTxConfigError(`txMaxChecks must be a non-negative integer, got ${String(o.txMaxChecks)}`);
  return {
    timerHorizonMs: positive(o.timerHorizonMs, d.timerHorizonMs, 'timerHorizonMs'),
    txCheckIntervalMs: positive(o.txCheckIntervalMs, d.txCheckIntervalMs, 'txCheckIntervalMs'),
    txCheckTimeoutMs: positive(o.txCheckTimeoutMs, d.txCheckTimeoutMs, 'txCheckTimeoutMs'),
    txMaxChecks: maxChecks,
    txCheckExhausted: exhausted,
  };
}
