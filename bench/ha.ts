/**
 * Replication and failover of one broker group on this machine, as `mq` processes over a private nats-server:
 *
 * - produce throughput with no slave, with an async slave and with a sync slave (each on fresh stores, the same
 *   producer in this process sending batches as fast as the group takes them): sync / none and async / none;
 * - replication lag under full async load: the master's HA status sampled every SAMPLE_MS, each sample timed on
 *   the master's clock; a slave's lag at a sample is how long ago the master's write offset passed what the slave
 *   acknowledged (from the samples);
 * - failover: two brokers under the NATS KV controller (`--failover`), a producer sending one message after
 *   another; KILLS times the master is SIGKILLed, each time from the SIGKILL to the first SEND_OK of the new
 *   master; the killed broker then restarts as a slave and rejoins the in-sync set before the next kill.
 *
 * `npm run bench -- ha [--json] [--seconds 5] [--kills 10]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { natsTransport, startSystem, type Message, type MqSystem } from '../index.js';
import { AdminClient, type HaGroupStatus } from '../actors/client/admin-client.js';
import type { HaStatus } from '../actors/protocol/commands.js';
import { SendStatus } from '../core/message.js';
import { MqChild } from '../scenarios/real/mq-child.js';
import { atLeast, atMost, percentile, processCpuMs, round, type Bench, type BenchContext } from './harness.js';
import { startNatsServer, type NatsServer } from './nats-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const MQ_ENTRY = join(here, '..', 'bin', 'mq.js');
const GROUP = 'hb';
const TOPIC = 'ha-bench';
const BATCH = 32;
const BODY = 256;
const WINDOW = 16;
const SAMPLE_MS = 10;
/**
 * Lag samples start this long after the producer does: each phase starts fresh processes, and a slave's first
 * chunks run through code not compiled yet (in the first 400 ms its lag reached 60-170 ms at full and at half
 * load, about a tenth of a phase's samples above 50 ms and so most of its p99), as OMB leaves a warm-up out.
 */
const LAG_WARMUP_MS = 1000;
const LEASE_MS = 2000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function argNum(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : dflt;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** One run's processes: a name server and brokers as `mq` children, a client system over the same NATS. */
class Group {
  private readonly children: MqChild[] = [];
  private readonly brokers = new Map<number, MqChild>();
  client!: MqSystem;
  admin!: AdminClient;

  constructor(
    private readonly nats: NatsServer,
    private readonly dir: string,
    private readonly prefix: string,
  ) {}

  private conn(): string[] {
    return ['--nats', this.nats.url, '--prefix', this.prefix];
  }

  private spawn(name: string, args: string[]): MqChild {
    const c = new MqChild(name, { entry: MQ_ENTRY, args: [...args, ...this.conn()], logLevel: 'warn', showLogs: false });
    this.children.push(c);
    return c;
  }

  async start(): Promise<void> {
    const ns = this.spawn('namesrv', ['namesrv', '--id', 'ns-h']);
    await ns.waitForLine(/^namesrv ns-h ready$/, 15_000);
    this.client = await startSystem({ transport: natsTransport({ servers: this.nats.url, prefix: this.prefix, name: 'ha-bench' }), logger: pino({ level: 'error' }) });
    this.admin = new AdminClient(this.client.env.transport, { namesrv: ['ns-h'], timeoutMs: 1000 });
  }

  async broker(id: number, flags: string[]): Promise<MqChild> {
    const b = this.spawn(`broker-${id}`, ['broker', '--name', GROUP, '--broker-id', String(id), '--namesrv', 'ns-h', '--store', join(this.dir, `b-${id}`), ...flags]);
    this.brokers.set(id, b);
    await b.waitForLine(new RegExp(`^broker ${GROUP} ready`), 20_000);
    return b;
  }

  child(id: number): MqChild | undefined {
    return this.brokers.get(id);
  }

  status(): Promise<HaGroupStatus | undefined> {
    return this.admin.haStatus(GROUP).catch(() => undefined);
  }

  async stop(): Promise<void> {
    await this.client?.stop();
    for (const c of this.children) if (!c.exited) c.signal('SIGKILL');
    await Promise.all(this.children.map((c) => c.waitForExit(5000).catch(() => undefined)));
  }
}

function masterOf(g: HaGroupStatus | undefined): HaStatus | undefined {
  return g?.brokers.filter((b) => b.role === 'master').sort((a, b) => (b.epoch ?? 0) - (a.epoch ?? 0))[0];
}

/**
 * Sends batches with WINDOW in flight for `ms` (at most `rate` messages a second when given); returns
 * acknowledged messages per second.
 */
async function produceFor(client: MqSystem, ms: number, rate?: number, onStart?: (at: number) => void): Promise<number> {
  const producer = await client.spawnProducer({ group: 'ha-bench-pg', namesrv: ['ns-h'], batchMaxBytes: 1024 * 1024 });
  const body = Buffer.alloc(BODY, 97);
  const batch: Message[] = Array.from({ length: BATCH }, () => ({ topic: TOPIC, body }));
  await until('the topic', async () => (await producer.sendBatch(batch).catch(() => undefined)) !== undefined || undefined, 15_000);
  let acked = 0;
  const end = Date.now() + ms;
  const start = Date.now();
  onStart?.(start);
  // paced: each of the WINDOW senders takes every WINDOW-th slot of the rate
  const slotMs = rate === undefined ? 0 : (1000 * BATCH * WINDOW) / rate;
  await Promise.all(
    Array.from({ length: WINDOW }, async (_, w) => {
      for (let k = 0; Date.now() < end; k++) {
        const due = start + ((k + w / WINDOW) * slotMs);
        if (due > Date.now()) await sleep(due - Date.now());
        const r = await producer.sendBatch(batch).catch(() => undefined);
        if (r !== undefined) acked += r.filter((x) => x.status === SendStatus.SEND_OK).length;
      }
    }),
  );
  const seconds = (Date.now() - start) / 1000;
  await producer.stop();
  return acked / seconds;
}

/** A slave's lag in ms at each sample: how long before the sample the master's write offset passed the slave's ack. */
export function lagsOf(samples: readonly { t: number; masterWrite: number; ack: number }[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (s.ack >= s.masterWrite) {
      out.push(0);
      continue;
    }
    // the latest sample j <= i whose master write offset was at most the ack: the ack is at least that old
    let j = i;
    while (j > 0 && samples[j]!.masterWrite > s.ack) j--;
    out.push(s.t - samples[j]!.t);
  }
  return out;
}

/** CPU µs per acknowledged message of the master and the slave while they took `rate` messages a second for `seconds`. */
interface CpuPerMessage {
  master?: number;
  slave?: number;
}

async function throughput(ctx: BenchContext, nats: NatsServer, root: string, mode: 'none' | 'async' | 'sync', seconds: number, rate?: number): Promise<{ rate: number; lags: number[]; cpu: CpuPerMessage }> {
  const dir = mkdtempSync(join(root, `${mode}-`));
  const g = new Group(nats, dir, `hab${mode}${rate === undefined ? '' : 'p'}`);
  try {
    await g.start();
    const haFlags = mode === 'none' ? [] : ['--ha', mode];
    await g.broker(0, haFlags);
    if (mode !== 'none') {
      await g.broker(1, []);
      await until('the slave in sync', async () => (masterOf(await g.status())?.inSync?.length === 2 ? true : undefined), 20_000);
    }
    ctx.progress(`${mode}: producing for ${seconds} s${rate === undefined ? '' : ` at ${Math.round(rate)} msgs/s`}`);
    const samples: { t: number; masterWrite: number; ack: number }[] = [];
    /** The first sample past the warm-up: earlier ones only serve to look back from later ones. */
    let firstCounted = Infinity;
    let sampling = mode === 'async';
    let lagFrom = Infinity;
    const sampler = (async () => {
      const master = `broker.${GROUP}.0`;
      while (sampling) {
        const st = await g.admin.brokerHaStatus(master).catch(() => undefined);
        const slave = st?.slaves?.[0];
        if (Date.now() >= lagFrom) firstCounted = Math.min(firstCounted, samples.length);
        // on the master's clock when it answered (its status carries now - lastContact): the time this process
        // took to read the answer is not the slave's lag
        if (st && slave) samples.push({ t: slave.lastContact + slave.sinceContactMs, masterWrite: st.writeOffset, ack: slave.ackOffset });
        await sleep(SAMPLE_MS);
      }
    })();
    const cpuOf = (): (number | undefined)[] => [0, 1].map((id) => (g.child(id) === undefined ? undefined : processCpuMs(g.child(id)!.pid)));
    const cpuBefore = cpuOf();
    const started = Date.now();
    const achieved = await produceFor(g.client, seconds * 1000, rate, (start) => (lagFrom = start + LAG_WARMUP_MS));
    const messages = (achieved * (Date.now() - started)) / 1000;
    const cpuAfter = cpuOf();
    const perMessage = (i: number): number | undefined =>
      cpuAfter[i] === undefined || cpuBefore[i] === undefined ? undefined : round(((cpuAfter[i]! - cpuBefore[i]!) * 1000) / messages, 2);
    sampling = false;
    await sampler;
    return { rate: achieved, lags: lagsOf(samples).slice(firstCounted), cpu: { master: perMessage(0), slave: perMessage(1) } };
  } finally {
    await g.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function failovers(ctx: BenchContext, root: string, kills: number): Promise<number[]> {
  const nats = await startNatsServer({ jetstream: true });
  const dir = mkdtempSync(join(root, 'failover-'));
  const g = new Group(nats, dir, 'habf');
  const flags = ['--ha', 'sync', '--min-in-sync-replicas', '1', '--all-ack-in-sync-set', '--ha-sync-timeout', '1000', '--slave-not-catchup', '3000', '--failover', '--lease', String(LEASE_MS), '--ha-heartbeat', '200'];
  const times: number[] = [];
  try {
    await g.start();
    await g.broker(1, flags);
    await g.broker(2, flags);
    const producer = await g.client.spawnProducer({ group: 'ha-bench-fo', namesrv: ['ns-h'], retries: 0, sendTimeoutMs: 1000 });
    // each acknowledgement with when its send started: one started before a kill may be the old master's
    const acks: { sent: number; at: number }[] = [];
    let running = true;
    const loop = (async () => {
      while (running) {
        const sent = Date.now();
        const r = await producer.send({ topic: TOPIC, body: Buffer.from('x') }).catch(() => undefined);
        if (r?.status === SendStatus.SEND_OK) acks.push({ sent, at: Date.now() });
        else await sleep(10);
        await sleep(2);
      }
    })();
    await until('a first SEND_OK', () => (acks.length > 0 ? true : undefined), 30_000);
    for (let k = 0; k < kills; k++) {
      const st = await until('a master with its slave in sync', async () => {
        const m = masterOf(await g.status());
        return m !== undefined && m.inSync?.length === 2 ? m : undefined;
      }, 30_000);
      const id = st.brokerId;
      const killedAt = Date.now();
      g.child(id)!.signal('SIGKILL');
      await g.child(id)!.waitForExit(5000);
      const first = await until('the new master\'s first SEND_OK', () => acks.find((a) => a.sent > killedAt)?.at, 30_000);
      times.push(first - killedAt);
      ctx.progress(`kill ${k + 1}/${kills}: broker ${id}, failover ${first - killedAt} ms`);
      await g.broker(id, flags);
    }
    running = false;
    await loop;
    await producer.stop();
    return times;
  } finally {
    await g.stop();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const bench: Bench = async (ctx: BenchContext) => {
  const seconds = argNum(ctx.args, '--seconds', 5);
  const kills = argNum(ctx.args, '--kills', 10);
  const root = mkdtempSync(join(tmpdir(), 'mq-bench-ha-'));
  const nats = await startNatsServer({});
  try {
    const none = await throughput(ctx, nats, root, 'none', seconds);
    const asyncRun = await throughput(ctx, nats, root, 'async', seconds);
    const sync = await throughput(ctx, nats, root, 'sync', seconds);
    // the lag at an ordinary load: half what the group takes unreplicated
    const half = await throughput(ctx, nats, root, 'async', seconds, none.rate / 2);
    await nats.stop();
    const times = await failovers(ctx, root, kills);
    const lagP99 = percentile([...asyncRun.lags], 99);
    const failoverP99 = percentile([...times], 99);
    return {
      figures: {
        producePerSec: { none: round(none.rate, 1), async: round(asyncRun.rate, 1), sync: round(sync.rate, 1) },
        // each broker's CPU (user and system, this machine's /proc) per acknowledged message: what the ratios cost
        cpuMicrosPerMessage: { none: none.cpu, async: asyncRun.cpu, sync: sync.cpu, asyncHalfLoad: half.cpu },
        replicationLagMs: { samples: asyncRun.lags.length, p50: percentile([...asyncRun.lags], 50), p99: lagP99, max: Math.max(0, ...asyncRun.lags) },
        replicationLagHalfLoadMs: { msgsPerSec: round(half.rate, 1), samples: half.lags.length, p50: percentile([...half.lags], 50), p99: percentile([...half.lags], 99), max: Math.max(0, ...half.lags) },
        failoverMs: { kills: times.length, each: times, p50: percentile([...times], 50), p99: failoverP99, leaseMs: LEASE_MS },
      },
      goals: [
        atLeast('sync replication produce / unreplicated', sync.rate / none.rate, 0.7, 'ratio'),
        atLeast('async replication produce / unreplicated', asyncRun.rate / none.rate, 0.9, 'ratio'),
        atMost('replication lag p99 under full async load', lagP99, 50, 'ms'),
        atMost('failover p99 (SIGKILL to first SEND_OK)', failoverP99, LEASE_MS + 1000, 'ms'),
      ],
      table: [
        { what: 'produce, no slave (msgs/s)', value: round(none.rate, 1) },
        { what: 'produce, async slave (msgs/s)', value: round(asyncRun.rate, 1) },
        { what: 'produce, sync slave (msgs/s)', value: round(sync.rate, 1) },
        { what: 'replication lag p99, full load (ms)', value: lagP99 },
        { what: 'replication lag p99, half load (ms)', value: percentile([...half.lags], 99) },
        { what: 'failover p50 (ms)', value: percentile([...times], 50) },
        { what: 'failover p99 (ms)', value: failoverP99 },
      ],
    };
  } finally {
    await nats.stop();
    rmSync(root, { recursive: true, force: true });
  }
};

export default bench;
