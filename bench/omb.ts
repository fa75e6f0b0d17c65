/*
 * Workloads in the OpenMessaging benchmark's shape (topics, queues per topic, message size, producer rate,
 * consumers per subscription, duration), at sizes that fit this two-core machine, each run against ours and
 * against NATS JetStream at the same rate in the same run, on one nats-server (bench/omb-procs/sides.ts says how
 * each side is set up). Every producer, consumer and loader is a process of its own (bench/omb-procs/worker.ts),
 * on both sides alike, and so are our name server and broker (`mq`):
 *  - 1 topic x 16 queues, 1 KiB, at 1,000, 10,000 and 50,000 msgs/s;
 *  - 1,000 topics x 8 queues, 100 B, at the highest rate the 1-topic case sustained (achieved within 5% of the
 *    target; else the best it achieved);
 *  - a backlog: --backlog N messages of 100 B (default 5,000,000) stored as fast as possible, then a consumer
 *    group drains them while a producer sends at half that rate; the drain rate and the time until the backlog
 *    is under one second of production, within a time limit.
 * A producer sends one message per `send()` (ours) or `publish()` (JetStream) on a fixed timeline, latencies
 * counted from each message's due time (bench/omb-procs/timeline.ts). Figures: publish and end-to-end latency
 * p50, p99, p99.9; achieved publish and consume rates over the measured window; the backlog at the end.
 * Options: --only NAME (one workload: 1000, 10000, 50000, 1000-topics, backlog); --ms N (measured time of each
 * run, default 20000; warm-up a quarter of it, at most 5 s); --rate N (the rate of 1000-topics and twice the
 * backlog's when the 1-topic runs did not run; default 10000); --backlog N; --limit N (seconds the backlog
 * gets to catch up, default 120).
 */
import { atLeast, atMost, option, round, type Bench, type BenchContext, type Goal } from './harness.js';
import { startNatsServer } from './nats-server.js';
import { runBacklog, runWorkload, type BacklogFigures, type SideFigures } from './omb-procs/run-workload.js';
import { setUpJetStream, setUpOurs, type SideName } from './omb-procs/sides.js';
import { backlogWorkload, manyTopicsWorkload, oneTopicWorkloads, type Workload } from './omb-procs/workloads.js';

/** A 1-topic run sustains its rate when it achieved at least this share of it. */
const SUSTAINED = 0.95;
const WORKLOADS = ['1000', '10000', '50000', '1000-topics', 'backlog'] as const;


function positive(args: string[], name: string, dflt: number): number {
  const v = Number(option(args, name) ?? dflt);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

interface Pair<T> {
  workload: Workload;
  ours?: T;
  jetstream?: T;
  /** Why a side has no figures. */
  errors?: Partial<Record<SideName, string>>;
}

const bench: Bench = async (ctx: BenchContext) => {
  const ms = positive(ctx.args, 'ms', 20_000);
  const warmupMs = Math.min(5000, ms / 4);
  const backlogMessages = Math.round(positive(ctx.args, 'backlog', 5_000_000));
  const limitMs = positive(ctx.args, 'limit', 120) * 1000;
  const only = option(ctx.args, 'only');
  if (only !== undefined && !(WORKLOADS as readonly string[]).includes(only)) throw new Error(`--only: one of ${WORKLOADS.join(', ')}`);
  const runs = (name: string): boolean => only === undefined || only === name;
  const server = await startNatsServer({ jetstream: true });
  let n = 0;
  /** One workload on both sides, JetStream first; a side that fails is reported, the others go on. */
  const pair = async <T>(w: Workload, run: (side: SideName) => Promise<T>): Promise<Pair<T>> => {
    const out: Pair<T> = { workload: w };
    for (const side of ['jetstream', 'ours'] as const) {
      try {
        out[side] = await run(side);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        (out.errors ??= {})[side] = message;
        ctx.progress(`${side} ${w.name} failed: ${message}`);
      }
    }
    return out;
  };
  const setUp = (side: SideName, w: Workload): ReturnType<typeof setUpOurs> => {
    const run = `w${++n}${side === 'ours' ? 'o' : 'j'}`;
    return side === 'ours' ? setUpOurs(server.url, w, run, ctx.progress) : setUpJetStream(server.url, w, run);
  };
  const steady = (w: Workload) => (side: SideName) =>
    setUp(side, w).then(async (s) => {
      try {
        return await runWorkload(s, w, ctx.progress);
      } finally {
        await s.teardown();
      }
    });
  const oneTopic: Pair<SideFigures>[] = [];
  let manyTopics: Pair<SideFigures> | undefined;
  let backlog: Pair<BacklogFigures> | undefined;
  let sustainedRate: number;
  let baseline: Pair<SideFigures> | undefined;
  try {
    for (const w of oneTopicWorkloads(ms, warmupMs)) if (runs(String(w.rate))) oneTopic.push(await pair(w, steady(w)));
    // the highest rate our 1-topic case sustained, else the best it achieved
    const sustained = oneTopic.filter((p) => p.ours && p.ours.throughput >= SUSTAINED * p.workload.rate).sort((a, b) => b.workload.rate - a.workload.rate)[0];
    const best = [...oneTopic].filter((p) => p.ours).sort((a, b) => b.ours!.throughput - a.ours!.throughput)[0];
    baseline = sustained ?? best;
    sustainedRate = sustained ? sustained.workload.rate : best ? Math.floor(best.ours!.throughput / 100) * 100 : positive(ctx.args, 'rate', 10_000);
    if (runs('1000-topics')) {
      const w = manyTopicsWorkload(sustainedRate, ms, warmupMs);
      manyTopics = await pair(w, steady(w));
    }
    if (runs('backlog')) {
      const w = backlogWorkload(backlogMessages, Math.max(100, Math.round(sustainedRate / 2)), limitMs);
      backlog = await pair(w, (side) =>
        setUp(side, w).then(async (s) => {
          try {
            return await runBacklog(s, w, ctx.progress);
          } finally {
            await s.teardown();
          }
        }),
      );
    }
  } finally {
    await server.stop();
  }

  const ratio = (a: number | undefined, b: number | undefined): number => round((a ?? NaN) / (b ?? NaN), 3);
  const at = (rate: number): Pair<SideFigures> | undefined => oneTopic.find((p) => p.workload.rate === rate);
  const manyRatio = ratio(manyTopics?.ours?.throughput, baseline?.ours?.throughput);
  const figures: Record<string, unknown> = {
    durationMs: ms,
    warmupMs,
    sustainedRate,
    oneTopic,
    manyTopics,
    // the 1-topic run the 1,000-topic throughput is compared with
    baselineRate: baseline?.workload.rate,
    backlog,
    ratios: Object.fromEntries([
      ...oneTopic.map((p) => [`e2e p99 ours / JetStream at ${p.workload.rate}`, ratio(p.ours?.endToEnd.p99Ms, p.jetstream?.endToEnd.p99Ms)]),
      ['1,000 topics / 1 topic throughput, ours', manyRatio],
      ['1,000 topics / 1 topic throughput, JetStream', ratio(manyTopics?.jetstream?.throughput, baseline?.jetstream?.throughput)],
    ]),
  };

  const table: Array<Record<string, string | number>> = [];
  const rows = (p: Pair<SideFigures> | undefined): void => {
    if (!p) return;
    for (const side of ['ours', 'jetstream'] as const) {
      const f = p[side];
      const label = `${p.workload.name} ${side === 'ours' ? 'ours' : 'JetStream'}`;
      if (!f) {
        table.push({ workload: label, 'target/s': p.workload.rate, 'published/s': `failed: ${(p.errors?.[side] ?? '').slice(0, 60)}` });
        continue;
      }
      table.push({
        workload: label,
        'target/s': f.targetRate,
        'published/s': Math.round(f.publishRate),
        'consumed/s': Math.round(f.consumeRate),
        'pub p50': f.publish.p50Ms,
        'pub p99': f.publish.p99Ms,
        'pub p99.9': f.publish.p999Ms,
        'e2e p50': f.endToEnd.p50Ms,
        'e2e p99': f.endToEnd.p99Ms,
        'e2e p99.9': f.endToEnd.p999Ms,
        backlog: f.backlogAtEnd,
        // received after the drain time or never: left out of the latencies
        undelivered: f.undelivered,
      });
    }
  };
  for (const p of oneTopic) rows(p);
  rows(manyTopics);
  if (backlog) {
    for (const side of ['ours', 'jetstream'] as const) {
      const f = backlog[side];
      const label = `${backlog.workload.name} ${side === 'ours' ? 'ours' : 'JetStream'}`;
      if (!f) {
        table.push({ workload: label, 'published/s': `failed: ${(backlog.errors?.[side] ?? '').slice(0, 60)}` });
        continue;
      }
      table.push({
        workload: `${label} (${f.stored} stored at ${Math.round(f.loadRate)}/s)`,
        'target/s': f.targetRate,
        'published/s': Math.round(f.publishRate),
        'consumed/s': Math.round(f.drainRate),
        'pub p50': f.publish.p50Ms,
        'pub p99': f.publish.p99Ms,
        'pub p99.9': f.publish.p999Ms,
        backlog: f.backlogAtEnd,
        'caught up': f.caughtUp ? `${f.catchUpSeconds} s` : `no (${f.limitSeconds} s)`,
      });
    }
  }

  const goals: Goal[] = [];
  if (at(1000)) goals.push(atMost('e2e p99 at 1,000 msgs/s / JetStream', ratio(at(1000)?.ours?.endToEnd.p99Ms, at(1000)?.jetstream?.endToEnd.p99Ms), 1, 'ratio'));
  if (at(10_000)) goals.push(atMost('e2e p99 at 10,000 msgs/s / JetStream', ratio(at(10_000)?.ours?.endToEnd.p99Ms, at(10_000)?.jetstream?.endToEnd.p99Ms), 1, 'ratio'));
  if (at(50_000)) goals.push(atMost('e2e p99 at 50,000 msgs/s', at(50_000)?.ours?.endToEnd.p99Ms ?? NaN, 50, 'ms'));
  if (manyTopics) goals.push(atLeast('1,000 topics x 8 queues / 1 topic throughput', manyRatio, 0.8, 'ratio'));
  if (backlog) {
    const f = backlog.ours;
    // value: seconds until caught up (the limit when it did not)
    goals.push({ name: 'backlog drains while producing', value: f ? f.catchUpSeconds : NaN, target: limitMs / 1000, unit: 's', met: f?.caughtUp === true });
  }
  return { figures, goals, table };
};

export default bench;
