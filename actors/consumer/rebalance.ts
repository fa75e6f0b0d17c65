import { murmur3 } from '../../core/hash.js';
import { compareQueues, queueKey, type MessageQueue } from '../../core/message.js';

/**
 * Queue allocation strategies for clustering consumers, as pure deterministic functions. Every member of a
 * group runs the same function over the same (sorted, de-duplicated) inputs, so together they cover every
 * queue exactly once without talking to each other. Semantics follow RocketMQ's AllocateMessageQueue*.
 */
export type AllocateStrategy = (consumerGroup: string, currentCid: string, mqAll: readonly MessageQueue[], cidAll: readonly string[]) => MessageQueue[];

interface Prepared {
  mqs: MessageQueue[];
  cids: string[];
  index: number;
}

/** Sorts and de-duplicates the inputs; undefined when the current member gets nothing. */
function prepare(currentCid: string, mqAll: readonly MessageQueue[], cidAll: readonly string[]): Prepared | undefined {
  if (!currentCid || mqAll.length === 0 || cidAll.length === 0) return undefined;
  const cids = [...new Set(cidAll)].sort();
  const index = cids.indexOf(currentCid);
  if (index < 0) return undefined;
  const seen = new Set<string>();
  const mqs: MessageQueue[] = [];
  for (const mq of mqAll) {
    const k = queueKey(mq);
    if (!seen.has(k)) {
      seen.add(k);
      mqs.push(mq);
    }
  }
  mqs.sort(compareQueues);
  return { mqs, cids, index };
}

/** Contiguous blocks: the first `mq % cid` members get one queue more (RocketMQ's default strategy). */
export const allocateAveragely: AllocateStrategy = (_group, currentCid, mqAll, cidAll) => {
  const p = prepare(currentCid, mqAll, cidAll);
  if (!p) return [];
  const { mqs, cids, index } = p;
  const n = mqs.length;
  const c = cids.length;
  const mod = n % c;
  const averageSize = n <= c ? 1 : mod > 0 && index < mod ? Math.floor(n / c) + 1 : Math.floor(n / c);
  const startIndex = mod > 0 && index < mod ? index * averageSize : index * averageSize + mod;
  const range = Math.min(averageSize, n - startIndex);
  const out: MessageQueue[] = [];
  for (let i = 0; i < range; i++) out.push(mqs[(startIndex + i) % n]!);
  return out;
};

/** Dealt like cards: queue i goes to member i mod members. */
export const allocateAveragelyByCircle: AllocateStrategy = (_group, currentCid, mqAll, cidAll) => {
  const p = prepare(currentCid, mqAll, cidAll);
  if (!p) return [];
  const out: MessageQueue[] = [];
  for (let i = p.index; i < p.mqs.length; i += p.cids.length) out.push(p.mqs[i]!);
  return out;
};

export const DEFAULT_VIRTUAL_NODES = 10;

/**
 * Consistent hashing with `virtualNodes` points per member on a 32-bit ring (murmur3): a queue belongs to the
 * first point at or after its hash. When a member joins, only queues taken by the new member move.
 */
export function consistentHashStrategy(virtualNodes = DEFAULT_VIRTUAL_NODES): AllocateStrategy {
  if (!Number.isInteger(virtualNodes) || virtualNodes < 1) throw new RangeError(`virtualNodes must be a positive integer, got ${virtualNodes}`);
  return (_group, currentCid, mqAll, cidAll) => {
    const p = prepare(currentCid, mqAll, cidAll);
    if (!p) return [];
    const ring: { hash: number; cid: string }[] = [];
    for (const cid of p.cids) for (let v = 0; v < virtualNodes; v++) ring.push({ hash: murmur3(`${cid}-${v}`), cid });
    // ties broken by member id so that the order does not depend on the input order
    ring.sort((a, b) => a.hash - b.hash || (a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0));
    const out: MessageQueue[] = [];
    for (const mq of p.mqs) {
      const h = murmur3(queueKey(mq));
      let lo = 0;
      let hi = ring.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ring[mid]!.hash < h) lo = mid + 1;
        else hi = mid;
      }
      const owner = ring[lo === ring.length ? 0 : lo]!.cid;
      if (owner === currentCid) out.push(mq);
    }
    return out;
  };
}

export const allocateConsistentHash: AllocateStrategy = consistentHashStrategy();
