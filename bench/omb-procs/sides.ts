/**
 * The two sides of `bench omb`, each set up afresh for one workload on the bench's nats-server:
 *  - ours: a name server and a broker as `mq` processes (the broker with default flush settings: async, flushed
 *    100 ms after data became dirty), the workload's topics with their queue counts created through the admin
 *    client, and workers speaking the line protocol of worker.ts;
 *  - JetStream: one file-backed stream per workload whose subjects are the workload's topics (`omb.<run>.<i>`):
 *    for 1 topic that is a stream per topic, for 1,000 topics one stream with 1,000 subjects (1,000 streams and
 *    their consumers are more than this machine runs beside the bench); JetStream has no queues, so the queue
 *    count does not apply. One durable pull consumer (no acks, from the first message) that every consumer
 *    worker pulls from: the consumer group's counterpart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AckPolicy, DeliverPolicy, StorageType, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { AdminClient } from '../../actors/client/admin-client.js';
import { rootLogger } from '../../actors/runtime/environment.js';
import { RealClock } from '../../core/clock.js';
import { CryptoRandom } from '../../core/random.js';
import { natsTransport } from '../../transports/nats.js';
import { Child } from '../child.js';
import type { WorkerConfig } from './worker.js';
import { topicNames, type Workload } from './workloads.js';

const here = dirname(fileURLToPath(import.meta.url));
const MQ_BIN = join(here, '..', '..', 'bin', 'mq.js');
export const WORKER = join(here, 'worker.js');
const NAMESRV = 'ns-omb';
const BROKER = 'omb-broker';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export type SideName = 'ours' | 'jetstream';

/** One workload's setup on one side: what its workers are told, and how to take it down. */
export interface Setup {
  side: SideName;
  /** Worker configuration without the role and the role's own fields. */
  base: Omit<WorkerConfig, 'role'>;
  /** Queues a consumer group holds once every member has its share (ours; 0: nothing to wait for). */
  queues: number;
  teardown(): Promise<void>;
}

/** Tasks run `width` at a time. */
async function inBatches<T>(items: readonly T[], width: number, task: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(task));
}

/** Ours: a fresh name server and broker for `w`, its topics created and routable. */
export async function setUpOurs(natsUrl: string, w: Workload, run: string, progress: (m: string) => void): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'actormq-omb-'));
  const prefix = `omb${process.pid}${run.replace(/[^a-z0-9]/gi, '')}`;
  const conn = ['--nats', natsUrl, '--prefix', prefix];
  const children: Child[] = [];
  const transport = await natsTransport({ servers: natsUrl, prefix, name: 'omb-bench' })({ clock: new RealClock(), random: new CryptoRandom(), logger: rootLogger('warn') });
  const teardown = async (): Promise<void> => {
    await transport.close().catch(() => undefined);
    for (const c of children.reverse()) await c.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ns = new Child('namesrv', [MQ_BIN, 'namesrv', '--id', NAMESRV, ...conn]);
    children.push(ns);
    await ns.line((l) => (/ready/.test(l) ? true : undefined), 20_000, 'namesrv ready');
    const broker = new Child('broker', [MQ_BIN, 'broker', '--name', BROKER, '--namesrv', NAMESRV, '--store', join(dir, 'broker'), ...conn]);
    children.push(broker);
    await broker.line((l) => (/ready/.test(l) ? true : undefined), 30_000, 'broker ready');
    const admin = new AdminClient(transport, { namesrv: [NAMESRV], timeoutMs: 10_000 });
    const topics = topicNames(w, run);
    const t0 = performance.now();
    await inBatches(topics, 16, async (t) => {
      await admin.createTopic(t, { readQueues: w.queuesPerTopic, writeQueues: w.queuesPerTopic });
    });
    // the broker registers its topics with the name server in the background: wait until every route shows
    const deadline = performance.now() + 60_000 + topics.length * 100;
    let missing = topics;
    while (missing.length > 0) {
      const left: string[] = [];
      await inBatches(missing, 32, async (t) => {
        const route = await admin.tryRoute(t).catch(() => undefined);
        if (!route?.queueDatas.some((q) => q.writeQueueNums === w.queuesPerTopic)) left.push(t);
      });
      missing = left;
      if (missing.length === 0) break;
      if (performance.now() > deadline) throw new Error(`the name server does not route ${missing.length} of ${topics.length} topics`);
      await sleep(100);
    }
    if (topics.length > 1) progress(`ours: ${topics.length} topics created and routed in ${Math.round(performance.now() - t0)} ms`);
    return {
      side: 'ours',
      base: { side: 'ours', nats: natsUrl, prefix, namesrv: [NAMESRV], topics, group: `omb-cg-${run}`, messageBytes: w.messageBytes },
      queues: topics.length * w.queuesPerTopic,
      teardown,
    };
  } catch (err) {
    await teardown();
    throw err;
  }
}

/** JetStream: a file-backed stream whose subjects are `w`'s topics, and a durable pull consumer on it. */
export async function setUpJetStream(natsUrl: string, w: Workload, run: string): Promise<Setup> {
  const nc = await connect({ servers: natsUrl, name: 'omb-bench-jsm' });
  const stream = `OMB_${run.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const group = 'omb-cg';
  const subjects = topicNames(w, run).map((_, i) => `omb.${run}.${i}`);
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`omb.${run}.>`], storage: StorageType.File });
    await jsm.consumers.add(stream, { durable_name: group, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
  } catch (err) {
    await nc.close();
    throw err;
  }
  return {
    side: 'jetstream',
    base: { side: 'js', nats: natsUrl, stream, topics: subjects, group, messageBytes: w.messageBytes },
    queues: 0,
    teardown: async () => {
      try {
        const jsm = await jetstreamManager(nc);
        await jsm.streams.delete(stream);
      } finally {
        await nc.close();
      }
    },
  };
}
