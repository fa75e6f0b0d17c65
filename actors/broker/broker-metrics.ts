import { Histogram, type HistogramSnapshot } from '../../core/histogram.js';
import { statusName } from '../../core/status.js';
import { RequestCode, requestCodeName } from '../protocol/request-codes.js';

/**
 * The broker's counters for metrics: plain numbers in plain maps, updated once per request or batch (never per
 * message), read by an exporter when it is scraped (observe/metrics.ts). Nothing here knows Prometheus.
 *
 * - messages and body bytes in per topic: once per send batch the store accepted (the topic the producer sent to);
 * - messages and body bytes out per topic: once per pull reply that carries messages;
 * - requests by request code and reply status, and send and pull latency (request arrival to reply; a pull held
 *   by long polling from its wake-up, by new data or its timeout, to its reply: the wait is not service);
 * - commit log flush latency (the store reports each flush).
 *
 * The gauges (store positions, lags, held pulls, replication) are read from the running broker when a snapshot
 * is taken (metrics-snapshot.ts).
 */

/** Request code counted for a frame no handler serves (so that hostile codes cannot grow the table). */
export const UNKNOWN_REQUEST_CODE = -1;

/** Messages and their body bytes. */
export interface Flow {
  messages: number;
  bytes: number;
}

/** What the counters hold at one time (plain data). */
export interface BrokerCounters {
  /** Per topic, sorted by topic: messages and body bytes stored from sends (in) and carried by pull replies (out). */
  topics: { topic: string; in: Flow; out: Flow }[];
  /** Requests answered, by request code name and reply status name. */
  requests: { code: string; status: string; count: number }[];
  /** Request arrival to reply, ms: SEND_MESSAGE, SEND_BATCH_MESSAGE and SEND_MANY. */
  sendLatencyMs: HistogramSnapshot;
  /** Request arrival to reply, ms: PULL_MESSAGE (a held pull: from its wake-up to its reply). */
  pullLatencyMs: HistogramSnapshot;
  /** Duration of each commit log flush that made data durable, ms. */
  flushLatencyMs: HistogramSnapshot;
  /** Bytes those flushes made durable. */
  flushedBytes: number;
}

export class BrokerMetrics {
  private readonly flowIn = new Map<string, Flow>();
  private readonly flowOut = new Map<string, Flow>();
  /** request code -> reply status -> count */
  private readonly requests = new Map<number, Map<number, number>>();
  private readonly sendLatency = new Histogram();
  private readonly pullLatency = new Histogram();
  private readonly flushLatency = new Histogram();
  private flushedBytes = 0;

  /** A send batch of `messages` messages with `bytes` body bytes in all was stored on `topic`. */
  stored(topic: string, messages: number, bytes: number): void {
    add(this.flowIn, topic, messages, bytes);
  }

  /** A pull reply carried `messages` messages of `topic` with `bytes` body bytes in all. */
  pulled(topic: string, messages: number, bytes: number): void {
    add(this.flowOut, topic, messages, bytes);
  }

  /**
   * A request was answered with `status`. With `elapsedMs` (arrival to reply) a send or pull also counts in its
   * latency histogram; without it (a one-way frame) it counts as a request only.
   */
  answered(code: number, status: number, elapsedMs?: number): void {
    let byStatus = this.requests.get(code);
    if (byStatus === undefined) this.requests.set(code, (byStatus = new Map()));
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    if (elapsedMs === undefined) return;
    if (code === RequestCode.SEND_MESSAGE || code === RequestCode.SEND_BATCH_MESSAGE || code === RequestCode.SEND_MANY) this.sendLatency.observe(elapsedMs);
    else if (code === RequestCode.PULL_MESSAGE) this.pullLatency.observe(elapsedMs);
  }

  /** A commit log flush took `ms` and made `bytes` durable. */
  flushed(ms: number, bytes: number): void {
    this.flushLatency.observe(ms);
    this.flushedBytes += bytes;
  }

  /** Requests answered since start by request code name, whatever their status (the observation stream's figure). */
  requestsByCode(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [code, byStatus] of this.requests) {
      let n = 0;
      for (const count of byStatus.values()) n += count;
      out[code === UNKNOWN_REQUEST_CODE ? 'UNKNOWN' : requestCodeName(code)] = n;
    }
    return out;
  }

  counters(): BrokerCounters {
    const names = new Set([...this.flowIn.keys(), ...this.flowOut.keys()]);
    const topics = [...names].sort().map((topic) => ({ topic, in: copy(this.flowIn.get(topic)), out: copy(this.flowOut.get(topic)) }));
    const requests: BrokerCounters['requests'] = [];
    for (const [code, byStatus] of this.requests) {
      const name = code === UNKNOWN_REQUEST_CODE ? 'UNKNOWN' : requestCodeName(code);
      for (const [status, count] of byStatus) requests.push({ code: name, status: statusName(status), count });
    }
    requests.sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : a.status < b.status ? -1 : a.status > b.status ? 1 : 0));
    return {
      topics,
      requests,
      sendLatencyMs: this.sendLatency.snapshot(),
      pullLatencyMs: this.pullLatency.snapshot(),
      flushLatencyMs: this.flushLatency.snapshot(),
      flushedBytes: this.flushedBytes,
    };
  }
}

function add(m: Map<string, Flow>, topic: string, messages: number, bytes: number): void {
  const f = m.get(topic);
  if (f === undefined) m.set(topic, { messages, bytes });
  else {
    f.messages += messages;
    f.bytes += bytes;
  }
}

function copy(f: Flow | undefined): Flow {
  return f === undefined ? { messages: 0, bytes: 0 } : { messages: f.messages, bytes: f.bytes };
}
