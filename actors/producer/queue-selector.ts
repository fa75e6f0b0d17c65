import { javaHashCode } from '../../core/hash.js';
import type { MessageQueue } from '../../core/message.js';
import { isAvailable, pickOne, type FaultState } from './fault-avoidance.js';

/**
 * Choosing the queue a send goes to. Pure: the caller keeps the round-robin counter (`seq`, advanced by one per
 * send) and passes it in. Queues come from `writableQueues(route, topic)`, sorted by broker name and queue id.
 */

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

/** Round robin over `queues`; skips the queues of `skipBrokerName` (the one that just failed) when others exist. */
export function selectQueue(queues: readonly MessageQueue[], seq: number, skipBrokerName?: string): MessageQueue | undefined {
  const n = queues.length;
  if (n === 0) return undefined;
  if (skipBrokerName !== undefined) {
    for (let i = 0; i < n; i++) {
      const q = queues[mod(seq + i, n)]!;
      if (q.brokerName !== skipBrokerName) return q;
    }
  }
  return queues[mod(seq, n)]!;
}

/** The queue for a sharding key: one key always maps to one queue while the queue list is unchanged. */
export function selectByKey(queues: readonly MessageQueue[], key: string): MessageQueue | undefined {
  if (queues.length === 0) return undefined;
  return queues[Math.abs(javaHashCode(key)) % queues.length]!;
}

/**
 * Round robin that avoids brokers the fault state marks unavailable (and `skipBrokerName`). When every broker
 * is avoided, takes a queue of the least bad one (`pickOne`), and failing that plain round robin.
 */
export function selectWithFaultAvoidance(
  queues: readonly MessageQueue[],
  seq: number,
  faults: FaultState,
  now: number,
  skipBrokerName?: string,
): MessageQueue | undefined {
  const n = queues.length;
  if (n === 0) return undefined;
  for (let i = 0; i < n; i++) {
    const q = queues[mod(seq + i, n)]!;
    if (q.brokerName !== skipBrokerName && isAvailable(faults, q.brokerName, now)) return q;
  }
  const best = pickOne(faults, now, seq);
  if (best !== undefined) {
    const own = queues.filter((q) => q.brokerName === best);
    if (own.length > 0) return own[mod(seq, own.length)]!;
  }
  return selectQueue(queues, seq, skipBrokerName);
}
