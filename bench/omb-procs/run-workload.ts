/**
 * One workload on one side (set up by sides.ts): consumer workers first, every member holding its queues, then
 * producer workers on one timeline from one wall-clock start; their results merged into one side's figures.
 * The backlog workload: loaders store the backlog as fast as they can (batched: this is loading), then producers
 * send at the workload's rate while the consumer group, started then, drains; sampled until caught up.
 */
import { round } from '../harness.js';
import { backlogAt, caughtUpAt, drainRate, type BacklogSample } from './catch-up.js';
import { Child } from '../child.js';
import { merged, summarize, type LatencySummary } from './latency.js';
import { WORKER, type Setup } from './sides.js';
import { topicsOfProducer, type BacklogWorkload, type Workload } from './workloads.js';
import type { ConsumerResult, LoaderResult, ProducerResult, WorkerConfig } from './worker.js';
import { machineMs, perfToMachineMs } from '../machine-clock.js';

/** Sends in flight per producer at most (ours and JetStream alike); past it the timeline runs late. */
export const MAX_IN_FLIGHT = 2000;
/** How long the last sends may take to be answered after a run's end. */
const SETTLE_MS = 10_000;
/** How long the consumers get, after the producers finished, to receive what is stored. */
const DRAIN_MS = 10_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const wallMs = machineMs;

export interface SideFigures {
  /** Messages per second asked for, and acknowledged in the measured window per second. */
  targetRate: number;
  publishRate: number;
  /** Messages per second the consumers received in the measured window. */
  consumeRate: number;
  /** The lower of the two: what went through. */
  throughput: number;
  /** Publish latency (due time -> send acknowledged) and end-to-end latency (due time -> listener), ms. */
  publish: LatencySummary;
  endToEnd: LatencySummary;
  /** Messages acknowledged and not yet received when the producers finished. */
  backlogAtEnd: number;
  /** Of those, still not received DRAIN_MS later (left out of the latencies). */
  undelivered: number;
  /** Sends that failed, sends unanswered after SETTLE_MS, and how far the slowest producer ran behind at the end. */
  failed: number;
  unsettled: number;
  behindAtEndMs: number;
}

function worker(name: string, cfg: WorkerConfig): Child {
  return new Child(name, [WORKER, JSON.stringify(cfg)]);
}

/** Consumer workers, every one consuming and (ours) the group holding all its queues. */
async function startConsumers(setup: Setup, count: number, extra: Partial<WorkerConfig> = {}): Promise<Child[]> {
  const consumers = Array.from({ length: count }, (_, i) => worker(`${setup.side}-consumer-${i}`, { ...setup.base, role: 'consumer', ...extra }));
  await Promise.all(consumers.map((c) => c.json('ready', 60_000)));
  if (setup.queues > 0) {
    // members rebalance when another joins: wait until each holds its share and the shares cover every queue
    const deadline = performance.now() + 60_000;
    for (;;) {
      const held = await Promise.all(consumers.map((c) => c.ask<number>('queues', 'queues')));
      if (held.every((n) => n > 0) && held.reduce((a, b) => a + b, 0) >= setup.queues) break;
      if (performance.now() > deadline) throw new Error(`${setup.side}: the consumer group holds ${held.join('+')} of ${setup.queues} queues`);
      await sleep(200);
    }
  }
  return consumers;
}

async function counts(children: readonly Child[]): Promise<number> {
  const ns = await Promise.all(children.map((c) => c.ask<number>('count', 'count')));
  return ns.reduce((a, b) => a + b, 0);
}

export async function runWorkload(setup: Setup, w: Workload, progress: (m: string) => void): Promise<SideFigures> {
  const started: Child[] = [];
  try {
    const consumers = await startConsumers(setup, w.consumersPerSubscription);
    started.push(...consumers);
    const producers = Array.from({ length: w.producers }, (_, i) =>
      worker(`${setup.side}-producer-${i}`, {
        ...setup.base,
        role: 'producer',
        topics: topicsOfProducer(setup.base.topics, i, w.producers),
        timeline: { rate: w.rate / w.producers, warmupMs: w.warmupMs, durationMs: w.durationMs, maxInFlight: MAX_IN_FLIGHT, settleMs: SETTLE_MS },
      }),
    );
    started.push(...producers);
    await Promise.all(producers.map((p) => p.json('ready', 120_000)));
    const start = wallMs() + 500;
    const from = start + w.warmupMs;
    const to = from + w.durationMs;
    for (const c of consumers) c.tell(`window ${from} ${to}`);
    for (const p of producers) p.tell(`go ${start}`);
    progress(`${setup.side} ${w.name}: ${w.rate} msgs/s for ${(w.warmupMs + w.durationMs) / 1000} s`);
    const results = await Promise.all(producers.map((p) => p.json<ProducerResult>('result', w.warmupMs + w.durationMs + SETTLE_MS + 30_000)));
    const produced = results.reduce((a, r) => a + r.acked, 0);
    const backlogAtEnd = produced - (await counts(consumers));
    const drainUntil = performance.now() + DRAIN_MS;
    let consumed = produced - backlogAtEnd;
    while (consumed < produced && performance.now() < drainUntil) {
      await sleep(100);
      consumed = await counts(consumers);
    }
    const received = await Promise.all(consumers.map((c) => c.ask<ConsumerResult>('stop', 'result', 30_000)));
    const seconds = w.durationMs / 1000;
    const publishRate = results.reduce((a, r) => a + r.ackedMeasured, 0) / seconds;
    const consumeRate = received.reduce((a, r) => a + r.inWindow, 0) / seconds;
    const figures: SideFigures = {
      targetRate: w.rate,
      publishRate: round(publishRate, 1),
      consumeRate: round(consumeRate, 1),
      throughput: round(Math.min(publishRate, consumeRate), 1),
      publish: summarize(merged(results.map((r) => r.publishMs))),
      endToEnd: summarize(merged(received.map((r) => r.e2eMs))),
      backlogAtEnd: Math.max(0, backlogAtEnd),
      undelivered: Math.max(0, produced - received.reduce((a, r) => a + r.messages, 0)),
      failed: results.reduce((a, r) => a + r.failed, 0),
      unsettled: results.reduce((a, r) => a + r.unsettled, 0),
      behindAtEndMs: round(Math.max(...results.map((r) => r.behindAtEndMs)), 1),
    };
    progress(
      `${setup.side} ${w.name}: published ${Math.round(publishRate)}/s, consumed ${Math.round(consumeRate)}/s, ` +
        `publish p99 ${figures.publish.p99Ms} ms, e2e p50 ${figures.endToEnd.p50Ms} p99 ${figures.endToEnd.p99Ms} p99.9 ${figures.endToEnd.p999Ms} ms, backlog ${figures.backlogAtEnd}`,
    );
    return figures;
  } finally {
    for (const c of started) await c.stop();
  }
}

export interface BacklogFigures {
  /** Messages stored before the consumers started, and how fast they were stored. */
  stored: number;
  loadRate: number;
  loadSeconds: number;
  /** Production rate while draining (asked for and achieved). */
  targetRate: number;
  publishRate: number;
  /** Whether the backlog fell under one second of production within the limit, and when (s since the consumers started). */
  caughtUp: boolean;
  catchUpSeconds: number;
  /** Messages consumed per second from the consumers' start until caught up (or the limit). */
  drainRate: number;
  /** Backlog when the consumers were stopped. */
  backlogAtEnd: number;
  limitSeconds: number;
  /** Publish latency while the group drains (due time -> acknowledged), ms. */
  publish: LatencySummary;
  failed: number;
}

export async function runBacklog(setup: Setup, w: BacklogWorkload, progress: (m: string) => void): Promise<BacklogFigures> {
  const started: Child[] = [];
  try {
    const loader = worker(`${setup.side}-loader`, { ...setup.base, role: 'loader', count: w.messages });
    started.push(loader);
    await loader.json('ready', 60_000);
    progress(`${setup.side} backlog: storing ${w.messages} messages of ${w.messageBytes} B`);
    loader.tell('go');
    const load = await loader.json<LoaderResult>('result', w.limitMs * 4);
    await loader.stop();
    progress(`${setup.side} backlog: stored ${load.messages} in ${round(load.seconds, 1)} s (${Math.round(load.perSecond)}/s)`);
    const producer = worker(`${setup.side}-producer`, {
      ...setup.base,
      role: 'producer',
      timeline: { rate: w.rate, warmupMs: 0, durationMs: w.limitMs + 60_000, maxInFlight: MAX_IN_FLIGHT, settleMs: SETTLE_MS },
    });
    started.push(producer);
    await producer.json('ready', 60_000);
    const goAt = performance.now() + 200;
    producer.tell(`go ${goAt + perfToMachineMs}`);
    await sleep(1200); // producing steadily before the consumers start
    const t0 = performance.now();
    const stored = async (): Promise<number> => load.messages + (await counts([producer]));
    const samples: BacklogSample[] = [{ atMs: 0, stored: await stored(), consumed: 0 }];
    const consumers = await startConsumers(setup, w.consumersPerSubscription, { noLatency: true });
    started.push(...consumers);
    let caught: BacklogSample | undefined;
    let last = samples[0]!;
    let lastReport = 0;
    while (performance.now() - t0 < w.limitMs) {
      const consumed = await counts(consumers);
      last = { atMs: performance.now() - t0, stored: await stored(), consumed };
      samples.push(last);
      caught = caughtUpAt(samples, w.rate);
      if (caught) break;
      if (last.atMs - lastReport >= 10_000) {
        lastReport = last.atMs;
        progress(`${setup.side} backlog: ${backlogAt(last)} left after ${Math.round(last.atMs / 1000)} s`);
      }
      await sleep(250);
    }
    producer.tell('halt');
    const haltAt = performance.now();
    const produced = await producer.json<ProducerResult>('result', SETTLE_MS + 30_000);
    await Promise.all(consumers.map((c) => c.ask<ConsumerResult>('stop', 'result', 30_000)));
    const end = caught ?? last;
    const figures: BacklogFigures = {
      stored: load.messages,
      loadRate: round(load.perSecond, 1),
      loadSeconds: round(load.seconds, 1),
      targetRate: w.rate,
      publishRate: round(produced.acked / Math.max(1e-3, (haltAt - goAt) / 1000), 1),
      caughtUp: caught !== undefined,
      catchUpSeconds: round(end.atMs / 1000, 2),
      drainRate: round(drainRate(samples, end), 1),
      backlogAtEnd: backlogAt(end),
      limitSeconds: w.limitMs / 1000,
      publish: summarize(produced.publishMs),
      failed: produced.failed,
    };
    progress(
      `${setup.side} backlog: ${figures.caughtUp ? `caught up in ${figures.catchUpSeconds} s` : `not caught up in ${figures.limitSeconds} s`}, ` +
        `drained ${Math.round(figures.drainRate)}/s while producing ${Math.round(figures.publishRate)}/s`,
    );
    return figures;
  } finally {
    for (const c of started) await c.stop();
  }
}
