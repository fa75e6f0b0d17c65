/**
 * The producer and consumer workloads of the end-to-end benchmark, shared by the in-process (memory transport)
 * runs and the child processes of the NATS runs.
 *
 * Produce modes:
 *  - throughput: `inFlight` loops, each sending `sendBatch` of `batch` messages after the previous answer;
 *  - rate: messages at `rate` per second (batched per timer tick), each body stamped with the wall clock;
 *  - sync: `count` unbatched `send` calls one after another; the latency of each.
 * Consume modes:
 *  - drain: from the first offset until `expect` messages arrived; rate from first to last arrival;
 *  - latency: from the last offset; for every stamped body, arrival time minus its stamp.
 */
import type { Consumer, ConsumerOptions, Message, Producer } from '../../index.js';
import type { ActorSystem } from '../../actors/runtime/system.js';
import { startConsumer } from '../../actors/consumer/consumer.js';
import { percentile } from '../harness.js';
import { machineMs } from '../machine-clock.js';

export interface ProduceSpec {
  mode: 'throughput' | 'rate' | 'sync';
  topic: string;
  size: number;
  /** throughput and rate: how long to send (warm-up not included). */
  ms?: number;
  /** throughput: not counted at the start. */
  warmupMs?: number;
  /** Messages per sendBatch. */
  batch?: number;
  /** throughput: batches in flight. rate: most batches in flight before sends are skipped. */
  inFlight?: number;
  /** rate: messages per second. */
  rate?: number;
  /** sync: number of sends (after `warmup` sends not counted). */
  count?: number;
  warmup?: number;
}

export interface ProduceResult {
  messages: number;
  seconds: number;
  perSecond: number;
  failed: number;
  /** rate: messages not sent because too many batches were in flight. */
  skipped?: number;
  /** sync: latency of one send, ms. */
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
}

export interface ConsumeSpec {
  mode: 'drain' | 'latency';
  topic: string;
  group: string;
  /** drain: messages to wait for. */
  expect?: number;
  /** drain: give up after this long. */
  timeoutMs?: number;
  pullBatch?: number;
  consumeBatchSize?: number;
}

export interface ConsumeResult {
  messages: number;
  seconds: number;
  perSecond: number;
  /** latency: end-to-end latency (stamp to listener), ms. */
  p50Ms?: number;
  p99Ms?: number;
  samples?: number;
}

/** Wall clock with sub-millisecond resolution, comparable between processes of one machine. */
export const wallMs = machineMs;
const nowMs = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function fillBody(size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

/** A body whose first 8 bytes hold the wall clock (little-endian float64), marker byte 1 at 8. */
function stampedBody(size: number): Uint8Array {
  const b = new Uint8Array(Math.max(size, 9));
  new DataView(b.buffer).setFloat64(0, wallMs(), true);
  b[8] = 1;
  return b;
}

export async function produce(producer: Producer, spec: ProduceSpec): Promise<ProduceResult> {
  if (spec.mode === 'sync') return produceSync(producer, spec);
  if (spec.mode === 'rate') return produceAtRate(producer, spec);
  return produceThroughput(producer, spec);
}

async function produceThroughput(producer: Producer, spec: ProduceSpec): Promise<ProduceResult> {
  const batch = spec.batch ?? 128;
  const body = fillBody(spec.size);
  const msgs: Message[] = Array.from({ length: batch }, () => ({ topic: spec.topic, tags: 'T', body }));
  const t0 = nowMs();
  const from = t0 + (spec.warmupMs ?? 300);
  const until = from + (spec.ms ?? 3000);
  let counted = 0;
  let failed = 0;
  let last = from;
  const loop = async (): Promise<void> => {
    while (nowMs() < until) {
      try {
        await producer.sendBatch(msgs);
        const t = nowMs();
        if (t >= from) {
          counted += batch;
          last = t;
        }
      } catch {
        failed += batch;
        await sleep(5);
      }
    }
  };
  await Promise.all(Array.from({ length: spec.inFlight ?? 16 }, loop));
  const seconds = Math.max(1e-3, (last - from) / 1000);
  return { messages: counted, seconds, perSecond: counted / seconds, failed };
}

async function produceAtRate(producer: Producer, spec: ProduceSpec): Promise<ProduceResult> {
  const rate = spec.rate ?? 10_000;
  const maxBatch = spec.batch ?? 128;
  const maxInFlight = spec.inFlight ?? 64;
  const ms = spec.ms ?? 3000;
  let sent = 0;
  let acked = 0;
  let failed = 0;
  let skipped = 0;
  let inFlight = 0;
  const t0 = nowMs();
  let settle!: () => void;
  const allDone = new Promise<void>((r) => (settle = r));
  let ticking = true;
  const tick = (): void => {
    const elapsed = nowMs() - t0;
    if (elapsed >= ms) {
      ticking = false;
      clearInterval(timer);
      if (inFlight === 0) settle();
      return;
    }
    let due = Math.floor((rate * elapsed) / 1000) - sent - skipped;
    while (due > 0) {
      const n = Math.min(due, maxBatch);
      due -= n;
      if (inFlight >= maxInFlight) {
        skipped += n;
        continue;
      }
      const msgs: Message[] = [];
      for (let i = 0; i < n; i++) msgs.push({ topic: spec.topic, tags: 'T', body: stampedBody(spec.size) });
      sent += n;
      inFlight++;
      const done = (ok: boolean): void => {
        inFlight--;
        if (ok) acked += n;
        else failed += n;
        if (!ticking && inFlight === 0) settle();
      };
      (n === 1 ? producer.send(msgs[0]!) : producer.sendBatch(msgs)).then(
        () => done(true),
        () => done(false),
      );
    }
  };
  const timer = setInterval(tick, 1);
  await allDone;
  const seconds = (nowMs() - t0) / 1000;
  return { messages: acked, seconds, perSecond: acked / seconds, failed, skipped };
}

async function produceSync(producer: Producer, spec: ProduceSpec): Promise<ProduceResult> {
  const count = spec.count ?? 2000;
  const warmup = spec.warmup ?? 200;
  const body = fillBody(spec.size);
  const lat: number[] = [];
  let failed = 0;
  const t0 = nowMs();
  for (let i = 0; i < warmup + count; i++) {
    const s = nowMs();
    try {
      await producer.send({ topic: spec.topic, tags: 'T', body });
      if (i >= warmup) lat.push(nowMs() - s);
    } catch {
      failed++;
    }
  }
  const seconds = (nowMs() - t0) / 1000;
  const maxMs = lat.reduce((a, b) => Math.max(a, b), 0);
  return { messages: lat.length, seconds, perSecond: lat.length / seconds, failed, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), maxMs };
}

export interface ConsumeRun {
  consumer: Consumer;
  /** drain: resolves when `expect` messages arrived (or the timeout passed). */
  done: Promise<void>;
  /** Stops the consumer and reports. */
  finish(): Promise<ConsumeResult>;
}

/** Consumer settings for throughput: big pulls and listener batches, a deep per-queue cache. */
export function consumerOptions(spec: ConsumeSpec, namesrv: string[]): Omit<ConsumerOptions, 'listener'> {
  return {
    group: spec.group,
    namesrv,
    subscribe: { [spec.topic]: '*' },
    consumeFrom: spec.mode === 'drain' ? 'first' : 'last',
    pullBatch: spec.pullBatch ?? 1024,
    consumeBatchSize: spec.consumeBatchSize ?? 256,
    maxCachedMessagesPerQueue: 8192,
    pullTimeoutMs: 1000,
    commitIntervalMs: 1000,
  };
}

export async function consume(system: ActorSystem, namesrv: string[], spec: ConsumeSpec): Promise<ConsumeRun> {
  let count = 0;
  let first = 0;
  let last = 0;
  const lat: number[] = [];
  const expect = spec.expect ?? Infinity;
  let reached!: () => void;
  const done = new Promise<void>((r) => (reached = r));
  const latency = spec.mode === 'latency';
  const consumer = await startConsumer(system, {
    ...consumerOptions(spec, namesrv),
    listener: (msgs) => {
      const t = nowMs();
      if (count === 0) first = t;
      count += msgs.length;
      last = t;
      if (latency) {
        const w = wallMs();
        for (const m of msgs) {
          const b = m.body;
          if (b.length >= 9 && b[8] === 1) lat.push(w - new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true));
        }
      }
      if (count >= expect) reached();
      return 'SUCCESS';
    },
  });
  let timer: NodeJS.Timeout | undefined;
  if (spec.timeoutMs !== undefined) timer = setTimeout(reached, spec.timeoutMs);
  return {
    consumer,
    done: done.then(() => clearTimeout(timer)),
    finish: async () => {
      clearTimeout(timer);
      await consumer.stop();
      const seconds = Math.max(1e-3, (last - first) / 1000);
      const r: ConsumeResult = { messages: count, seconds, perSecond: count / seconds };
      if (latency) {
        r.samples = lat.length;
        r.p50Ms = percentile(lat, 50);
        r.p99Ms = percentile(lat, 99);
      }
      return r;
    },
  };
}
