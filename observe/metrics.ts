/**
 * Prometheus metrics of the brokers of one process. The brokers keep plain counters (actors/broker/broker-metrics.ts);
 * this registry reads their snapshots (`BrokerHandle.metrics()`) when it is scraped, through prom-client's
 * `collect()` callbacks and a histogram that reports the broker's own bucket counts, so nothing is counted twice and
 * the data path never touches prom-client. observe/metrics-server.ts serves it over HTTP.
 *
 * Names follow Prometheus' conventions: prefix `actormq_`, base units (seconds, bytes), counters ending in `_total`.
 * Every series carries `broker` (`<name>/<id>`): one process may host several brokers.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BrokerHandle, BrokerMetricsSnapshot } from '../actors/broker/broker.js';
import { cumulativeCounts, type HistogramSnapshot } from '../core/histogram.js';

export const METRIC_PREFIX = 'actormq_';

export interface MetricsRegistryOptions {
  /** Also export prom-client's process metrics (CPU, memory, event loop lag, GC; default true). */
  processMetrics?: boolean;
}

export interface BrokerMetricsRegistry {
  readonly registry: Registry;
  /** The content type of `scrape()`'s text (Prometheus' text format 0.0.4). */
  readonly contentType: string;
  /** Every metric in the text format, from one snapshot of each broker taken now. */
  scrape(): Promise<string>;
}

/** A broker's label value: `<name>/<id>`. */
export function brokerLabel(s: Pick<BrokerMetricsSnapshot, 'brokerName' | 'brokerId'>): string {
  return `${s.brokerName}/${s.brokerId}`;
}

/** The registry of the brokers `brokers()` lists at each scrape (brokers may come and go). */
export function brokerMetricsRegistry(brokers: () => readonly BrokerHandle[], opts: MetricsRegistryOptions = {}): BrokerMetricsRegistry {
  const registry = new Registry();
  // one snapshot per broker per scrape, shared by every metric; a registry read without scrape() takes its own
  let current: BrokerMetricsSnapshot[] | undefined;
  const snapshots = (): BrokerMetricsSnapshot[] => current ?? brokers().map((b) => b.metrics());
  const registers = [registry];
  const name = (n: string): string => METRIC_PREFIX + n;

  const flowCounter = (n: string, help: string, read: (t: BrokerMetricsSnapshot['topics'][number]) => number): void => {
    new Counter({
      name: name(n),
      help,
      labelNames: ['broker', 'topic'] as const,
      registers,
      collect() {
        this.reset();
        for (const s of snapshots()) for (const t of s.topics) this.inc({ broker: brokerLabel(s), topic: t.topic }, read(t));
      },
    });
  };
  flowCounter('messages_in_total', 'Messages stored from producers, by the topic they were sent to.', (t) => t.in.messages);
  flowCounter('bytes_in_total', 'Message body bytes stored from producers, by the topic they were sent to.', (t) => t.in.bytes);
  flowCounter('messages_out_total', 'Messages carried by pull replies, by topic.', (t) => t.out.messages);
  flowCounter('bytes_out_total', 'Message body bytes carried by pull replies, by topic.', (t) => t.out.bytes);

  new Counter({
    name: name('requests_total'),
    help: 'Requests answered, by request code and reply status.',
    labelNames: ['broker', 'code', 'status'] as const,
    registers,
    collect() {
      this.reset();
      for (const s of snapshots()) for (const r of s.requests) this.inc({ broker: brokerLabel(s), code: r.code, status: r.status }, r.count);
    },
  });

  new SnapshotHistogram(name('send_latency_seconds'), 'Send requests (SEND_MESSAGE, SEND_BATCH_MESSAGE, SEND_MANY) from arrival to reply.', registry, () =>
    snapshots().map((s) => ({ broker: brokerLabel(s), ms: s.sendLatencyMs })),
  );
  new SnapshotHistogram(name('pull_latency_seconds'), 'Pulls from arrival to reply (a pull held by long polling: from its wake-up, by new data or its timeout, to its reply).', registry, () =>
    snapshots().map((s) => ({ broker: brokerLabel(s), ms: s.pullLatencyMs })),
  );
  new SnapshotHistogram(name('flush_latency_seconds'), 'Commit log flushes (fsync) that made data durable.', registry, () =>
    snapshots().map((s) => ({ broker: brokerLabel(s), ms: s.flushLatencyMs })),
  );
  new Counter({
    name: name('flushed_bytes_total'),
    help: 'Commit log bytes made durable by flushes.',
    labelNames: ['broker'] as const,
    registers,
    collect() {
      this.reset();
      for (const s of snapshots()) this.inc({ broker: brokerLabel(s) }, s.flushedBytes);
    },
  });

  const brokerGauge = (n: string, help: string, read: (g: NonNullable<BrokerMetricsSnapshot['gauges']>) => number): void => {
    new Gauge({
      name: name(n),
      help,
      labelNames: ['broker'] as const,
      registers,
      collect() {
        this.reset();
        for (const s of snapshots()) if (s.gauges !== undefined) this.set({ broker: brokerLabel(s) }, read(s.gauges));
      },
    });
  };
  brokerGauge('commitlog_size_bytes', 'Commit log bytes held (write offset minus min offset).', (g) => g.commitLogBytes);
  brokerGauge('dispatch_lag_bytes', 'Commit log bytes written but not yet indexed for consumers (write offset minus dispatched offset).', (g) => g.dispatchLagBytes);
  brokerGauge('held_pulls', 'Pulls held now (long polling).', (g) => g.heldPulls);

  new Gauge({
    name: name('consumer_lag_messages'),
    help: "Messages of a queue a consumer group has not committed yet (the queue's max offset minus the group's committed offset).",
    labelNames: ['broker', 'group', 'topic', 'queue'] as const,
    registers,
    collect() {
      this.reset();
      for (const s of snapshots()) {
        for (const l of s.gauges?.consumerLag ?? []) this.set({ broker: brokerLabel(s), group: l.group, topic: l.topic, queue: String(l.queueId) }, l.messages);
      }
    },
  });
  new Gauge({
    name: name('replication_lag_bytes'),
    help: "Commit log bytes a slave does not hold yet: on a master each slave's, on a slave its own.",
    labelNames: ['broker', 'slave'] as const,
    registers,
    collect() {
      this.reset();
      for (const s of snapshots()) for (const r of s.gauges?.replication ?? []) this.set({ broker: brokerLabel(s), slave: r.slave }, r.lagBytes);
    },
  });

  const served = opts.processMetrics ?? true ? Registry.merge([registry, processRegistry()]) : registry;
  return {
    registry: served,
    contentType: served.contentType,
    scrape: async () => {
      current = brokers().map((b) => b.metrics());
      try {
        return await served.metrics();
      } finally {
        current = undefined;
      }
    },
  };
}

type HistogramValues = Awaited<ReturnType<Histogram<'broker' | 'le'>['get']>>;
type HistogramValue = HistogramValues['values'][number];
/** prom-client's own reading of a histogram (its registry asks this one for the text format; `get()` splays it). */
const baseReading = (Histogram.prototype as unknown as { getForPromString(this: Histogram): Promise<HistogramValues> }).getForPromString;

/**
 * A histogram whose figures are the brokers' own (core/histogram.ts, in ms), exported in seconds at scrape time:
 * prom-client's Histogram counts observations itself, which would put prom-client on the data path.
 */
class SnapshotHistogram extends Histogram<'broker' | 'le'> {
  constructor(
    private readonly metricName: string,
    help: string,
    registry: Registry,
    private readonly read: () => { broker: string; ms: HistogramSnapshot }[],
  ) {
    super({ name: metricName, help, labelNames: ['broker'], registers: [registry] });
  }

  /** Replaces prom-client's reading (nothing observed: no values) with the brokers' figures. */
  async getForPromString(): Promise<HistogramValues> {
    const base = await baseReading.call(this);
    const values: HistogramValue[] = [];
    const value = (suffix: string, labels: HistogramValue['labels'], v: number): void =>
      void values.push({ metricName: `${this.metricName}${suffix}`, labels, sharedLabels: {}, value: v } as HistogramValue);
    for (const { broker, ms } of this.read()) {
      const cum = cumulativeCounts(ms);
      for (let i = 0; i < ms.bounds.length; i++) value('_bucket', { broker, le: ms.bounds[i]! / 1000 }, cum[i]!);
      value('_bucket', { broker, le: '+Inf' }, ms.count);
      value('_sum', { broker }, ms.sum / 1000);
      value('_count', { broker }, ms.count);
    }
    return { ...base, values };
  }
}

let processMetrics: Registry | undefined;

/**
 * prom-client's process metrics, made once per process: they install an event loop delay monitor and a GC observer
 * that are never removed, so every registry shares the one set.
 */
function processRegistry(): Registry {
  if (processMetrics === undefined) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}
