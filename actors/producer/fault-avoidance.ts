/**
 * Latency-based fault avoidance, as RocketMQ's MQFaultStrategy: after a send, the producer records the broker
 * group's latency; a slow or failed broker is avoided for a while (the slower, the longer). Pure: the state is
 * an immutable map and `now` is passed in.
 */
export const LATENCY_MAX: readonly number[] = [50, 100, 550, 1000, 2000, 3000, 15000];
export const NOT_AVAILABLE_DURATION: readonly number[] = [0, 0, 30000, 60000, 120000, 180000, 600000];
/** Latency a failed send (isolation) counts as. */
export const ISOLATION_LATENCY = 30000;

export interface FaultItem {
  brokerName: string;
  latencyMs: number;
  /** The broker is avoided until this time. */
  availableAt: number;
}

export type FaultState = ReadonlyMap<string, FaultItem>;

export const EMPTY_FAULT_STATE: FaultState = new Map();

/** How long to avoid a broker that answered in `latencyMs` (0 when it is fast enough). */
export function notAvailableDuration(latencyMs: number, latencyMax = LATENCY_MAX, durations = NOT_AVAILABLE_DURATION): number {
  for (let i = latencyMax.length - 1; i >= 0; i--) if (latencyMs >= latencyMax[i]!) return durations[i]!;
  return 0;
}

/** Records a send's latency; `isolation` (the send failed) avoids the broker for the longest duration. */
export function updateFaultItem(state: FaultState, brokerName: string, latencyMs: number, isolation: boolean, now: number): FaultState {
  const duration = notAvailableDuration(isolation ? ISOLATION_LATENCY : latencyMs);
  const next = new Map(state);
  next.set(brokerName, { brokerName, latencyMs: isolation ? ISOLATION_LATENCY : latencyMs, availableAt: now + duration });
  return next;
}

export function removeFaultItem(state: FaultState, brokerName: string): FaultState {
  if (!state.has(brokerName)) return state;
  const next = new Map(state);
  next.delete(brokerName);
  return next;
}

/** Whether the producer may send to `brokerName` now (unknown brokers are available). */
export function isAvailable(state: FaultState, brokerName: string, now: number): boolean {
  const item = state.get(brokerName);
  return item === undefined || now >= item.availableAt;
}

/**
 * When every broker is being avoided, the least bad one: items sorted available first, then by latency, then by
 * when they become available; `seq` (a counter the caller advances) rotates among the better half.
 */
export function pickOne(state: FaultState, now: number, seq = 0): string | undefined {
  if (state.size === 0) return undefined;
  const items = [...state.values()].sort((a, b) => {
    const aa = now >= a.availableAt ? 0 : 1;
    const ba = now >= b.availableAt ? 0 : 1;
    return aa - ba || a.latencyMs - b.latencyMs || a.availableAt - b.availableAt || (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : 0);
  });
  const half = Math.floor(items.length / 2);
  if (half <= 0) return items[0]!.brokerName;
  return items[(((seq % half) + half) % half)]!.brokerName;
}
