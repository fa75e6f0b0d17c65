/*
 * End-to-end benchmark: produce and consume throughput of 100-byte and 1 KiB messages through one broker with
 * async flush (on the real disk, in a temp dir), and end-to-end latency at half the peak produce rate:
 *  - over the memory transport, name server, broker, producer and consumer in this process;
 *  - over NATS, with the name server and the broker (the `mq` command), the producer and the consumer each in
 *    its own process (bench/e2e-procs/client.ts);
 *  - beside NATS JetStream on the same nats-server, measured in this run: a file-backed stream, async publish
 *    with the same number of messages in flight as our producer keeps, a pull consumer, and the p99 of a sync
 *    publish next to the p99 of an unbatched sync send.
 * Produce throughput: acknowledged messages per second. Consume throughput: messages from the first offset of
 * a full queue set, first to last arrival. Latency: the body carries the send time; the consumer subtracts it.
 * Both halves run in rounds (--rounds=N, default 3); over NATS, JetStream and ours take turns. Each side reports
 * its median round for every figure, as this shared machine's speed drifts from one minute to the next (the
 * median keeps one quiet or one busy minute from deciding a figure).
 * Signed produce: the memory half also runs a second broker with an ACL file (written to its temp dir) and a
 * producer that signs every request. Each round ends with four pairs of one-second 100-byte produce phases, one
 * signed and one not, same batch and sends in flight, their order alternating; the goal is the median over all
 * pairs of signed / unsigned (phases a minute apart would mostly measure this machine's drift).
 * Options: --ms=N (time per produce phase, default 3000); --prof=DIR writes a CPU profile of every child
 * process (name server, broker, producers, consumers) into DIR; --only=memory|nats runs one half.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, StorageType, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startSystem, type MqSystem } from '../index.js';
import { brokerAddress, namesrvAddress } from '../actors/protocol/commands.js';
import { expectOk, jsonBody, parseJsonBody, request } from '../actors/protocol/replies.js';
import { RequestCode } from '../actors/protocol/request-codes.js';
import { signFrame, type Credentials } from '../actors/protocol/acl/signing.js';
import type { Frame } from '../transports/frame.js';
import { Status } from '../core/status.js';
import { PERM_READ_WRITE, type TopicRoute } from '../actors/protocol/route.js';
import { RealClock } from '../core/clock.js';
import { rootLogger } from '../actors/runtime/environment.js';
import { CryptoRandom } from '../core/random.js';
import type { Transport } from '../transports/transport.js';
import { memoryTransport } from '../transports/memory.js';
import { natsTransport } from '../transports/nats.js';
import { atLeast, atMost, option, percentile, round, type Bench, type BenchContext, type Goal } from './harness.js';
import { Child, NODE_FLAGS } from './child.js';
import { startNatsServer, type NatsServer } from './nats-server.js';
import { consume, produce, type ConsumeResult, type ConsumeSpec, type ProduceResult, type ProduceSpec } from './e2e-procs/workload.js';
import { transportSource } from '../observe/transport-source.js';

const here = dirname(fileURLToPath(import.meta.url));
const MQ_BIN = join(here, '..', 'bin', 'mq.js');
const CLIENT = join(here, 'e2e-procs', 'client.js');
const SIZES = [100, 1024] as const;
const QUEUES = 8;
/** Messages per sendBatch. */
const BATCH = 256;
/** sendBatch calls in flight: BATCH * IN_FLIGHT messages in flight (the JetStream peer gets the same). */
const IN_FLIGHT = 8;
const MSGS_IN_FLIGHT = BATCH * IN_FLIGHT;
const SYNC_SENDS = 5000;
/**
 * Sync sends (ours and JetStream's) not measured first: the code paths are compiled and the heap has grown. Our
 * producer is a fresh process here while JetStream's client has just published thousands of messages; after
 * 1000 sends its p99 was still 2-3x its settled value.
 */
const SYNC_WARMUP = 5000;
/** Unmeasured produce-and-drain passes of the memory half before it measures anything. */
const WARM_UP_PASSES = 2;
const BROKER = 'e2e-broker';
/** Pairs of signed and unsigned 100-byte produce phases per round, and each phase's time. */
const SIGNED_PAIRS = 4;
const PAIR_MS = 1000;
/**
 * Unmeasured phases of each producer before the NATS pairs: the broker with the ACL is a process of its own that
 * has served nothing yet, while the plain broker has served the throughput phases; without them the first pairs
 * measure the ACL broker's start (its code not yet compiled hot), not its checks.
 */
const PAIR_WARM_UPS = 2;
/** Observed / unobserved produce pairs per NATS round. */
const OBSERVED_PAIRS = 3;
/**
 * A pause before each phase of a pair: the brokers' background work after a phase (flushes, indexing, the kernel
 * writing pages back) would otherwise fall on the next phase, on the other broker, and on this machine's two cores
 * that alone moved a pair's ratio by a fifth.
 */
const quiet = (): Promise<void> => new Promise((r) => setTimeout(r, 1000));
/** The broker with an ACL file, for the signed produce phase of the memory half. */
const SIGNED_BROKER = 'e2e-broker-signed';
/** Accounts of its ACL file: the bench's own requests (create topics, read offsets), and the producer's. */
const BENCH_ADMIN: Credentials = { accessKey: 'e2e-admin', secretKey: 'e2e-admin-secret' };
const SIGNED_PRODUCER: Credentials = { accessKey: 'e2e-producer', secretKey: 'e2e-producer-secret' };
const NAMESRV = 'ns-1';
const nowMs = (): number => performance.now();

// ------------------------------------------------------------------------------------------- processes

/** Node flags for every child (the --prof option). */
let childFlags: string[] = [];
// ------------------------------------------------------------------------------------------- JetStream

interface JsFigures {
  asyncPublish: Record<number, { perSecond: number; messages: number }>;
  consume: Record<number, { perSecond: number; messages: number }>;
  syncPublishP50Ms: number;
  syncPublishP99Ms: number;
}

async function jetStreamPeer(url: string, ms: number, progress: (m: string) => void): Promise<JsFigures> {
  const nc: NatsConnection = await connect({ servers: url, name: 'e2e-jetstream' });
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const out: JsFigures = { asyncPublish: {}, consume: {}, syncPublishP50Ms: NaN, syncPublishP99Ms: NaN };
    for (const size of SIZES) {
      const stream = `E2E${size}`;
      const subject = `e2e.js.${size}`;
      await jsm.streams.add({ name: stream, subjects: [subject], storage: StorageType.File });
      const body = new Uint8Array(size).fill(7);
      // async publish with MSGS_IN_FLIGHT in flight
      let inFlight = 0;
      let acked = 0;
      let counted = 0;
      let failed: unknown;
      let room: (() => void) | undefined;
      const t0 = nowMs();
      const from = t0 + 300;
      const until = from + ms;
      let last = from;
      while (nowMs() < until && failed === undefined) {
        while (inFlight < MSGS_IN_FLIGHT) {
          inFlight++;
          js.publish(subject, body).then(
            () => {
              inFlight--;
              acked++;
              const t = nowMs();
              if (t >= from) {
                counted++;
                last = t;
              }
              if (inFlight < MSGS_IN_FLIGHT / 2 && room) {
                const r = room;
                room = undefined;
                r();
              }
            },
            (err: unknown) => {
              inFlight--;
              failed ??= err;
            },
          );
        }
        await new Promise<void>((r) => (room = r));
      }
      while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
      if (failed !== undefined) throw failed;
      const pubSeconds = Math.max(1e-3, (last - from) / 1000);
      out.asyncPublish[size] = { perSecond: counted / pubSeconds, messages: counted };
      progress(`JetStream ${size} B async publish: ${Math.round(counted / pubSeconds)} msgs/s`);
      // pull consumer from the start of the stream
      await jsm.consumers.add(stream, { durable_name: 'e2e', ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
      const c = await js.consumers.get(stream, 'e2e');
      const iter = await c.consume({ max_messages: 4096 });
      let got = 0;
      let first = 0;
      let lastAt = 0;
      const deadline = setTimeout(() => void iter.stop(), 30_000);
      for await (const m of iter) {
        void m;
        const t = nowMs();
        if (got === 0) first = t;
        got++;
        lastAt = t;
        if (got >= acked) break;
      }
      clearTimeout(deadline);
      await iter.close().catch(() => undefined);
      const cs = Math.max(1e-3, (lastAt - first) / 1000);
      out.consume[size] = { perSecond: got / cs, messages: got };
      progress(`JetStream ${size} B pull consume: ${Math.round(got / cs)} msgs/s`);
      if (size === 100) {
        const lat: number[] = [];
        for (let i = 0; i < SYNC_WARMUP + SYNC_SENDS; i++) {
          const s = nowMs();
          await js.publish(subject, body);
          if (i >= SYNC_WARMUP) lat.push(nowMs() - s);
        }
        out.syncPublishP50Ms = percentile(lat, 50);
        out.syncPublishP99Ms = percentile(lat, 99);
        progress(`JetStream sync publish p99 ${out.syncPublishP99Ms.toFixed(3)} ms`);
      }
      await jsm.streams.delete(stream);
    }
    return out;
  } finally {
    await nc.close();
  }
}

// ------------------------------------------------------------------------------------------- shared steps

/** An ACL file in `dir`: the bench's own admin account, and the signing producer's, with PUB on `topics`. */
function writeAclFile(dir: string, topics: readonly string[]): string {
  const file = join(dir, 'acl.json');
  const accounts = [
    { ...BENCH_ADMIN, admin: true, defaultTopicPerm: 'SUB' },
    { ...SIGNED_PRODUCER, topicPerms: topics.map((t) => `${t}=PUB`) },
  ];
  writeFileSync(file, JSON.stringify({ accounts }));
  return file;
}

/** Which broker the bench's own requests go to, and how they are signed (a broker with an ACL needs it). */
interface Target {
  broker: string;
  sign: (f: Frame) => Frame;
}

const PLAIN: Target = { broker: BROKER, sign: (f) => f };
const SIGNED: Target = { broker: SIGNED_BROKER, sign: (f) => signFrame(f, BENCH_ADMIN, Date.now()) };
/** The NATS half's broker for the unsigned side of the pairs: as fresh as the one with the ACL, started with it. */
const PAIRS_BROKER = 'e2e-broker-pairs';
const PAIRS: Target = { broker: PAIRS_BROKER, sign: (f) => f };

async function createTopic(transport: Transport, topic: string, to: Target = PLAIN): Promise<void> {
  const body = jsonBody({ topicName: topic, readQueueNums: QUEUES, writeQueueNums: QUEUES, perm: PERM_READ_WRITE, topicSysFlag: 0 });
  expectOk(await transport.request(brokerAddress(to.broker, 0), to.sign(request(RequestCode.UPDATE_AND_CREATE_TOPIC, {}, body)), { timeoutMs: 5000 }), `create ${topic}`);
  // the broker tells the name server in the background: wait until the route shows every queue
  const deadline = nowMs() + 10_000;
  while (nowMs() < deadline) {
    const reply = await transport.request(namesrvAddress(NAMESRV), request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }), { timeoutMs: 3000 });
    if (reply.status === Status.OK) {
      const route = parseJsonBody<TopicRoute>(reply);
      if (route.queueDatas.some((q) => q.writeQueueNums === QUEUES)) return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the name server does not show topic ${topic} with ${QUEUES} queues`);
}

function throughputSpec(topic: string, size: number, ms: number): ProduceSpec {
  return { mode: 'throughput', topic, size, ms, warmupMs: 300, batch: BATCH, inFlight: IN_FLIGHT };
}

function drainSpec(topic: string, expect: number): ConsumeSpec {
  return { mode: 'drain', topic, group: `e2e-drain-${topic}`, expect, timeoutMs: 60_000 };
}

/** CPU time (user + system) of this process per message, µs: steadier than rates on a shared machine. */
function cpuPerMessage(cpu: NodeJS.CpuUsage, messages: number): number {
  return round((cpu.user + cpu.system) / Math.max(1, messages), 2);
}

interface Flow {
  produce: Record<number, ProduceResult>;
  /** Memory flow only: produce through the broker with an ACL, every request signed (100 B). */
  signedProduce?: Record<number, ProduceResult>;
  /** Memory flow only: signed / unsigned 100-byte produce rate of each round, and their median. */
  signedRatios?: number[];
  signedRatio?: number;
  /** Memory flow only (everything in this process). */
  cpuMicrosPerMessage?: Record<string, number>;
  consume: Record<number, ConsumeResult>;
  latency?: { rate: number; produced: ProduceResult; consumed: ConsumeResult };
  /** NATS flow only: produce rate observed (an observer attached, metrics scraped once a second) / not, per pair, and their median. */
  observedRatios?: number[];
  observedRatio?: number;
  /** Records the observer received during the observed phases, and metrics scrapes made. */
  observed?: { records: number; scrapes: number };
  syncSend?: ProduceResult;
}

// ------------------------------------------------------------------------------------------- memory

async function memoryFlow(ms: number, rounds: number, progress: (m: string) => void): Promise<Flow> {
  const dir = mkdtempSync(join(tmpdir(), 'actormq-e2e-mem-'));
  let system: MqSystem | undefined;
  try {
    system = await startSystem({ transport: memoryTransport(), logger: rootLogger('warn') });
    await system.spawnNameServer({ id: NAMESRV });
    const broker = await system.spawnBroker({ name: BROKER, namesrv: [NAMESRV], storeDir: join(dir, 'broker'), flush: 'async' });
    await broker.whenServing();
    const producer = await system.spawnProducer({ group: 'e2e-pg', namesrv: [NAMESRV], batchMaxBytes: 1024 * 1024 });
    // the signed side: a broker that checks every request against an ACL file, and a producer that signs
    const signedTopics = ['e2e-mem-signed-warm-up', ...Array.from({ length: rounds }, (_, i) => `e2e-mem-signed-100-${i + 1}`)];
    const aclFile = writeAclFile(dir, signedTopics);
    const signedBroker = await system.spawnBroker({ name: SIGNED_BROKER, namesrv: [NAMESRV], storeDir: join(dir, 'broker-signed'), flush: 'async', aclFile });
    await signedBroker.whenServing();
    const signedProducer = await system.spawnProducer({ group: 'e2e-pg-signed', namesrv: [NAMESRV], batchMaxBytes: 1024 * 1024, credentials: SIGNED_PRODUCER });
    const transport = system.env.transport;
    const signedTopic = async (topic: string): Promise<void> => {
      await createTopic(transport, topic, SIGNED);
      await signedProducer.queues(topic);
    };
    const stored = async (topic: string, to: Target): Promise<number> => (await brokerMaxOffsets(transport, topic, to)).reduce((a, b) => a + b, 0);
    /** A 100-byte produce phase, signed or not, with its CPU per message stored (warm-up messages included). */
    const produce100 = async (signed: boolean, topic: string, phaseMs: number): Promise<ProduceResult & { cpuMicros: number }> => {
      await quiet();
      const to = signed ? SIGNED : PLAIN;
      const before = await stored(topic, to);
      const cpu = process.cpuUsage();
      const p = await produce(signed ? signedProducer : producer, throughputSpec(topic, 100, phaseMs));
      const used = process.cpuUsage(cpu);
      if (p.failed > 0) throw new Error(`${signed ? 'signed' : 'unsigned'} produce: ${p.failed} messages failed`);
      return { ...p, cpuMicros: cpuPerMessage(used, (await stored(topic, to)) - before) };
    };
    // passes not measured first: a broker is a long-running process, and this one's hot paths take a few
    // seconds of load to be compiled (and its heap to grow) before its throughput settles
    for (let pass = 1; pass <= WARM_UP_PASSES; pass++) {
      const warm = `e2e-mem-warm-up-${pass}`;
      await createTopic(system.env.transport, warm);
      await producer.queues(warm);
      await produce(producer, throughputSpec(warm, 100, ms));
      const run = await consume(system.actors, [NAMESRV], drainSpec(warm, (await brokerMaxOffsets(system.env.transport, warm)).reduce((a, b) => a + b, 0)));
      await run.done;
      await run.finish();
    }
    // the signed broker's store and the signing paths get a shorter pass of their own
    await signedTopic(signedTopics[0]!);
    await produce100(true, signedTopics[0]!, Math.min(ms, 1000));
    progress('memory warm-up done');
    // as over NATS, each figure is the median of `rounds` rounds: this machine's speed drifts by a third
    const producedBy: Record<number, (ProduceResult & { cpuMicros: number })[]> = {};
    const consumedBy: Record<number, (ConsumeResult & { cpuMicros: number })[]> = {};
    const signedBy: (ProduceResult & { cpuMicros: number })[] = [];
    const signedRatios: number[] = [];
    for (let r = 1; r <= rounds; r++) {
      await signedTopic(signedTopics[r]!);
      for (const size of SIZES) {
        const topic = `e2e-mem-${size}-${r}`;
        await createTopic(system.env.transport, topic);
        await producer.queues(topic);
        let cpu = process.cpuUsage();
        const p = await produce(producer, throughputSpec(topic, size, ms));
        const produceCpu = process.cpuUsage(cpu);
        // every message sent, warm-up included, is in the topic
        const total = Number((await brokerMaxOffsets(system.env.transport, topic)).reduce((a, b) => a + b, 0));
        (producedBy[size] ??= []).push({ ...p, cpuMicros: cpuPerMessage(produceCpu, total) });
        progress(`memory ${size} B produce: ${Math.round(p.perSecond)} msgs/s, ${cpuPerMessage(produceCpu, total)} µs CPU per message`);
        cpu = process.cpuUsage();
        const run = await consume(system.actors, [NAMESRV], drainSpec(topic, total));
        await run.done;
        const consumeCpu = process.cpuUsage(cpu);
        const c = await run.finish();
        (consumedBy[size] ??= []).push({ ...c, cpuMicros: cpuPerMessage(consumeCpu, c.messages) });
        progress(`memory ${size} B consume: ${Math.round(c.perSecond)} msgs/s (${c.messages}/${total}), ${cpuPerMessage(consumeCpu, c.messages)} µs CPU per message`);
      }
      // signed against unsigned: short pairs of 100-byte phases whose order alternates, so that neither side always
      // inherits the other's background work (flushes, page cache writeback) and the drift within a pair stays small
      const plainTopic = `e2e-mem-pair-${r}`;
      await createTopic(transport, plainTopic);
      await producer.queues(plainTopic);
      for (let i = 0; i < SIGNED_PAIRS; i++) {
        const signedFirst = (r + i) % 2 === 0;
        const a = await produce100(signedFirst, signedFirst ? signedTopics[r]! : plainTopic, PAIR_MS);
        const b = await produce100(!signedFirst, signedFirst ? plainTopic : signedTopics[r]!, PAIR_MS);
        const [signed, plain] = signedFirst ? [a, b] : [b, a];
        signedBy.push(signed);
        signedRatios.push(round(signed.perSecond / plain.perSecond, 3));
        progress(`memory 100 B signed produce: ${Math.round(signed.perSecond)} msgs/s, unsigned ${Math.round(plain.perSecond)} (${signedRatios.at(-1)}), ${signed.cpuMicros} and ${plain.cpuMicros} µs CPU per message`);
      }
    }
    const cpuMicros: Record<string, number> = {};
    const flow: Flow = { produce: {}, consume: {}, cpuMicrosPerMessage: cpuMicros };
    for (const size of SIZES) {
      const { cpuMicros: pc, ...p } = median(producedBy[size]!, (x) => x.perSecond)!;
      const { cpuMicros: cc, ...c } = median(consumedBy[size]!, (x) => x.perSecond)!;
      flow.produce[size] = p;
      flow.consume[size] = c;
      cpuMicros[`produce ${size} B`] = pc;
      cpuMicros[`consume ${size} B`] = cc;
    }
    const { cpuMicros: sc, ...sp } = median(signedBy, (x) => x.perSecond)!;
    flow.signedProduce = { 100: sp };
    flow.signedRatios = signedRatios;
    flow.signedRatio = median(signedRatios, (x) => x);
    cpuMicros['signed produce 100 B'] = sc;
    // latency at half the 100-byte peak
    const topic = 'e2e-mem-lat';
    await createTopic(system.env.transport, topic);
    await producer.queues(topic);
    const rate = Math.max(1000, Math.round(flow.produce[100]!.perSecond / 2));
    const run = await consume(system.actors, [NAMESRV], { mode: 'latency', topic, group: 'e2e-lat' });
    const produced = await produce(producer, { mode: 'rate', topic, size: 100, ms: Math.min(ms, 3000), rate, batch: BATCH, inFlight: IN_FLIGHT * 4 });
    await new Promise((r) => setTimeout(r, 300));
    const consumed = await run.finish();
    flow.latency = { rate, produced, consumed };
    progress(`memory latency at ${rate}/s: p50 ${consumed.p50Ms?.toFixed(2)} ms, p99 ${consumed.p99Ms?.toFixed(2)} ms`);
    flow.syncSend = await produce(producer, { mode: 'sync', topic, size: 100, count: SYNC_SENDS, warmup: SYNC_WARMUP });
    return flow;
  } finally {
    await system?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The memory half in a child process (one process: name server, broker, producer and consumer). */
async function memoryFlowInChild(ms: number, rounds: number, progress: (m: string) => void): Promise<Flow> {
  const c = new Child('memory', [fileURLToPath(import.meta.url), MEMORY_FLOW, String(ms), String(rounds)], childFlags);
  try {
    return await c.line((l) => {
      if (!l.startsWith('{')) return undefined;
      const o = JSON.parse(l) as { progress?: string; result?: Flow };
      if (o.progress !== undefined) progress(o.progress);
      return o.result;
    }, ms * 10 * rounds + 120_000, 'memory flow result');
  } finally {
    await c.stop();
  }
}

/** The max offset of every queue of a topic on the broker. */
async function brokerMaxOffsets(transport: Transport, topic: string, to: Target = PLAIN): Promise<number[]> {
  const out: number[] = [];
  for (let q = 0; q < QUEUES; q++) {
    const r = await transport.request(brokerAddress(to.broker, 0), to.sign(request(RequestCode.GET_MAX_OFFSET, { topic, queueId: q })), { timeoutMs: 3000 });
    out.push(Number(r.header.offset ?? 0));
  }
  return out;
}

// ------------------------------------------------------------------------------------------- NATS

/**
 * Signed against unsigned 100-byte produce with each producer and each broker in its own process (the unsigned
 * side on a broker started with the one with the ACL, not the one that served the throughput phases): after
 * PAIR_WARM_UPS unmeasured phases of each, SIGNED_PAIRS pairs of PAIR_MS phases, their order alternating, through one long-lived producer process of each kind
 * (`producer(signed, topic)`). Returns each pair's signed / unsigned rate.
 */
async function signedPairs(
  transport: Transport,
  plainTopic: string,
  signedTopic: string,
  producer: (signed: boolean, topic: string) => Child,
  progress: (m: string) => void,
): Promise<number[]> {
  await createTopic(transport, plainTopic, PAIRS);
  await createTopic(transport, signedTopic, SIGNED);
  const plain = producer(false, plainTopic);
  const signed = producer(true, signedTopic);
  try {
    await plain.json('ready', 30_000);
    await signed.json('ready', 30_000);
    const phase = async (c: Child): Promise<ProduceResult> => {
      await quiet();
      c.tell('go');
      const r = await c.json<ProduceResult>('result', PAIR_MS + 60_000);
      if (r.failed > 0) throw new Error(`${c.name}: ${r.failed} messages failed`);
      return r;
    };
    for (let i = 0; i < PAIR_WARM_UPS; i++) {
      await phase(signed);
      await phase(plain);
    }
    const ratios: number[] = [];
    for (let i = 0; i < SIGNED_PAIRS; i++) {
      const signedFirst = i % 2 === 1;
      const a = await phase(signedFirst ? signed : plain);
      const b = await phase(signedFirst ? plain : signed);
      const [s, u] = signedFirst ? [a, b] : [b, a];
      ratios.push(round(s.perSecond / u.perSecond, 3));
      progress(`nats 100 B signed produce: ${Math.round(s.perSecond)} msgs/s, unsigned ${Math.round(u.perSecond)} (${ratios.at(-1)})`);
    }
    return ratios;
  } finally {
    await plain.stop();
    await signed.stop();
  }
}

/**
 * Produce with the cluster observed against without, through one producer process on the pairs broker: in an
 * observed phase an observer (`transportSource`, as `mq observe` uses) is attached, so every process publishes its
 * records, and the broker's `/metrics` is scraped once a second (a Prometheus scraping every 15 s costs less). One
 * unmeasured phase of each first, then OBSERVED_PAIRS pairs, their order alternating. Returns each pair's
 * observed / unobserved rate, the records the observer received and the scrapes made.
 */
async function observedPairs(
  transport: Transport,
  topic: string,
  metricsUrl: string,
  producer: (topic: string) => Child,
  progress: (m: string) => void,
): Promise<{ ratios: number[]; records: number; scrapes: number }> {
  await createTopic(transport, topic, PAIRS);
  const p = producer(topic);
  let records = 0;
  let scrapes = 0;
  const random = new CryptoRandom();
  const logger = rootLogger('warn');
  try {
    await p.json('ready', 30_000);
    const phase = async (observed: boolean): Promise<ProduceResult> => {
      await quiet();
      const source = observed ? transportSource(transport, { random, logger }) : undefined;
      const sub = source?.records$.subscribe(() => records++);
      const scrape = async (): Promise<void> => {
        const res = await fetch(metricsUrl);
        if (!res.ok) throw new Error(`metrics scrape: HTTP ${res.status}`);
        await res.text();
        scrapes++;
      };
      const scraper = observed ? setInterval(() => void scrape().catch((err: unknown) => logger.warn({ err }, 'metrics scrape failed')), 1000) : undefined;
      try {
        if (observed) {
          await scrape();
          await new Promise((r) => setTimeout(r, 300)); // the snapshots arrived: the publishers publish
        }
        p.tell('go');
        const r = await p.json<ProduceResult>('result', PAIR_MS + 60_000);
        if (r.failed > 0) throw new Error(`${p.name}: ${r.failed} messages failed`);
        return r;
      } finally {
        clearInterval(scraper);
        sub?.unsubscribe();
        await source?.close();
      }
    };
    await phase(true);
    await phase(false);
    const ratios: number[] = [];
    for (let i = 0; i < OBSERVED_PAIRS; i++) {
      const observedFirst = i % 2 === 0;
      const a = await phase(observedFirst);
      const b = await phase(!observedFirst);
      const [o, u] = observedFirst ? [a, b] : [b, a];
      ratios.push(round(o.perSecond / u.perSecond, 3));
      progress(`nats 100 B produce observed: ${Math.round(o.perSecond)} msgs/s, unobserved ${Math.round(u.perSecond)} (${ratios.at(-1)})`);
    }
    return { ratios, records, scrapes };
  } finally {
    await p.stop();
  }
}

async function natsFlow(server: NatsServer, ms: number, progress: (m: string) => void): Promise<Flow> {
  const dir = mkdtempSync(join(tmpdir(), 'actormq-e2e-nats-'));
  const prefix = `e2e${process.pid}`;
  const conn = ['--nats', server.url, '--prefix', prefix];
  const started: Child[] = [];
  const child = (name: string, args: string[]): Child => {
    const c = new Child(name, args, childFlags);
    started.push(c);
    return c;
  };
  const clientArgs = (role: string, spec: ProduceSpec | ConsumeSpec, extra: Record<string, unknown> = {}): string[] => [
    CLIENT,
    role,
    JSON.stringify({ nats: server.url, prefix, namesrv: [NAMESRV], spec, ...extra }),
  ];
  const logger = rootLogger('warn');
  const transport = await natsTransport({ servers: server.url, prefix, name: 'e2e-bench' })({ clock: new RealClock(), random: new CryptoRandom(), logger });
  try {
    const ns = child('namesrv', [MQ_BIN, 'namesrv', '--id', NAMESRV, ...conn]);
    await ns.line((l) => (/ready/.test(l) ? true : undefined), 20_000, 'namesrv ready');
    const broker = child('broker', [MQ_BIN, 'broker', '--name', BROKER, '--namesrv', NAMESRV, '--store', join(dir, 'broker'), '--flush', 'async', ...conn]);
    await broker.line((l) => (/ready/.test(l) ? true : undefined), 30_000, 'broker ready');
    const signedTopic = 'e2e-nats-signed-100';
    const acl = writeAclFile(dir, [signedTopic]);
    const signedBroker = child('broker-signed', [MQ_BIN, 'broker', '--name', SIGNED_BROKER, '--namesrv', NAMESRV, '--store', join(dir, 'broker-signed'), '--flush', 'async', '--acl', acl, ...conn]);
    await signedBroker.line((l) => (/ready/.test(l) ? true : undefined), 30_000, 'signed broker ready');
    // the unsigned pairs go to a broker of their own, started with the signed one: both equally fresh
    // it also serves metrics: the observed pairs scrape them
    const pairsBroker = child('broker-pairs', [MQ_BIN, 'broker', '--name', PAIRS_BROKER, '--namesrv', NAMESRV, '--store', join(dir, 'broker-pairs'), '--flush', 'async', '--metrics', '127.0.0.1:0', ...conn]);
    const metricsUrl = await pairsBroker.line((l) => /metrics at (\S+)/.exec(l)?.[1], 30_000, 'pairs broker metrics URL');
    await pairsBroker.line((l) => (/ready/.test(l) ? true : undefined), 30_000, 'pairs broker ready');
    const flow: Flow = { produce: {}, consume: {} };
    const runProducer = async (spec: ProduceSpec): Promise<ProduceResult> => {
      const p = child(`producer-${spec.mode}`, clientArgs('producer', spec));
      await p.json('ready', 30_000);
      p.tell('go');
      const r = await p.json<ProduceResult>('result', (spec.ms ?? 0) + 60_000);
      await p.stop();
      return r;
    };
    for (const size of SIZES) {
      const topic = `e2e-nats-${size}`;
      await createTopic(transport, topic);
      const p = await runProducer(throughputSpec(topic, size, ms));
      flow.produce[size] = p;
      progress(`nats ${size} B produce: ${Math.round(p.perSecond)} msgs/s`);
      const total = (await brokerMaxOffsets(transport, topic)).reduce((a, b) => a + b, 0);
      const c = child('consumer-drain', clientArgs('consumer', drainSpec(topic, total)));
      const cr = await c.json<ConsumeResult>('result', 90_000);
      await c.stop();
      flow.consume[size] = cr;
      progress(`nats ${size} B consume: ${Math.round(cr.perSecond)} msgs/s (${cr.messages}/${total})`);
    }
    flow.signedRatios = await signedPairs(transport, 'e2e-nats-pair-100', signedTopic, (signed, topic) =>
      child(`producer-${signed ? 'signed' : 'unsigned'}`, clientArgs('producer', throughputSpec(topic, 100, PAIR_MS), { repeat: PAIR_WARM_UPS + SIGNED_PAIRS, ...(signed ? { credentials: SIGNED_PRODUCER } : {}) })),
      progress,
    );
    const observed = await observedPairs(transport, 'e2e-nats-observed-100', metricsUrl, (topic) =>
      child('producer-observed', clientArgs('producer', throughputSpec(topic, 100, PAIR_MS), { repeat: 2 + 2 * OBSERVED_PAIRS })),
      progress,
    );
    flow.observedRatios = observed.ratios;
    flow.observed = { records: observed.records, scrapes: observed.scrapes };
    const topic = 'e2e-nats-lat';
    await createTopic(transport, topic);
    const rate = Math.max(1000, Math.round(flow.produce[100]!.perSecond / 2));
    const lc = child('consumer-latency', clientArgs('consumer', { mode: 'latency', topic, group: 'e2e-lat' }));
    await lc.json('ready', 30_000);
    const produced = await runProducer({ mode: 'rate', topic, size: 100, ms: Math.min(ms, 3000), rate, batch: BATCH, inFlight: IN_FLIGHT * 4 });
    await new Promise((r) => setTimeout(r, 300));
    lc.tell('stop');
    const consumed = await lc.json<ConsumeResult>('result', 20_000);
    await lc.stop();
    flow.latency = { rate, produced, consumed };
    progress(`nats latency at ${rate}/s: p50 ${consumed.p50Ms?.toFixed(2)} ms, p99 ${consumed.p99Ms?.toFixed(2)} ms`);
    flow.syncSend = await runProducer({ mode: 'sync', topic, size: 100, count: SYNC_SENDS, warmup: SYNC_WARMUP });
    progress(`nats sync send p99 ${flow.syncSend.p99Ms?.toFixed(3)} ms`);
    return flow;
  } finally {
    await transport.close().catch(() => undefined);
    for (const c of started.reverse()) await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------- rounds

/** The middle element by `key` (the upper middle of an even count); undefined values are left out. */
function median<T>(xs: readonly (T | undefined)[], key: (t: T) => number): T | undefined {
  const sorted = xs.filter((x): x is T => x !== undefined).sort((x, y) => key(x) - key(y));
  return sorted[Math.floor(sorted.length / 2)];
}

/** Per size, the round with the median rate. */
function medianRate<T extends { perSecond: number }>(rounds: readonly Record<number, T>[]): Record<number, T> {
  const out: Record<number, T> = {};
  for (const s of SIZES) {
    const m = median(rounds.map((r) => r[s]), (x) => x.perSecond);
    if (m !== undefined) out[s] = m;
  }
  return out;
}

/** Our NATS flow over its rounds: per figure, the median round. */
function medianFlow(flows: readonly Flow[]): Flow {
  const out: Flow = { produce: medianRate(flows.map((f) => f.produce)), consume: medianRate(flows.map((f) => f.consume)) };
  const latency = median(flows.map((f) => f.latency), (l) => l.consumed.p99Ms ?? Infinity);
  if (latency) out.latency = latency;
  const sync = median(flows.map((f) => f.syncSend), (r) => r.p99Ms ?? Infinity);
  if (sync) out.syncSend = sync;
  // the signed pairs of every round together
  out.signedRatios = flows.flatMap((f) => f.signedRatios ?? []);
  out.signedRatio = median(out.signedRatios, (x) => x);
  out.observedRatios = flows.flatMap((f) => f.observedRatios ?? []);
  out.observedRatio = median(out.observedRatios, (x) => x);
  out.observed = { records: flows.reduce((a, f) => a + (f.observed?.records ?? 0), 0), scrapes: flows.reduce((a, f) => a + (f.observed?.scrapes ?? 0), 0) };
  return out;
}

/** The JetStream peer over its rounds, the same way. */
function medianJs(rounds: readonly JsFigures[]): JsFigures {
  const sync = median(rounds, (r) => (Number.isNaN(r.syncPublishP99Ms) ? Infinity : r.syncPublishP99Ms));
  return {
    asyncPublish: medianRate(rounds.map((r) => r.asyncPublish)),
    consume: medianRate(rounds.map((r) => r.consume)),
    syncPublishP50Ms: sync?.syncPublishP50Ms ?? NaN,
    syncPublishP99Ms: sync?.syncPublishP99Ms ?? NaN,
  };
}

// ------------------------------------------------------------------------------------------- the bench


const bench: Bench = async (ctx: BenchContext) => {
  const ms = Number(option(ctx.args, 'ms') ?? 3000);
  const prof = option(ctx.args, 'prof');
  if (prof !== undefined) childFlags = ['--cpu-prof', `--cpu-prof-dir=${prof}`];
  if (!Number.isFinite(ms) || ms <= 0) throw new Error('--ms must be a positive number');
  const only = option(ctx.args, 'only');
  const rounds = Number(option(ctx.args, 'rounds') ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
  const empty: Flow = { produce: {}, consume: {} };
  const mem = only === 'nats' ? empty : await memoryFlowInChild(ms, rounds, ctx.progress);
  let js: JsFigures = { asyncPublish: {}, consume: {}, syncPublishP50Ms: NaN, syncPublishP99Ms: NaN };
  let nats: Flow = empty;
  if (only !== 'memory') {
    const server = await startNatsServer({ jetstream: true });
    try {
      // JetStream and ours take turns, and each reports its median round: a slow (or quiet) spell of this
      // shared machine then moves neither side's figure alone.
      const jsRounds: JsFigures[] = [];
      const natsRounds: Flow[] = [];
      for (let r = 1; r <= rounds; r++) {
        if (rounds > 1) ctx.progress(`NATS round ${r} of ${rounds}`);
        jsRounds.push(await jetStreamPeer(server.url, ms, ctx.progress));
        natsRounds.push(await natsFlow(server, ms, ctx.progress));
      }
      js = medianJs(jsRounds);
      nats = medianFlow(natsRounds);
    } finally {
      await server.stop();
    }
  }
  const r = (v: number | undefined): number => round(v ?? NaN, 1);
  const ratio = (a: number | undefined, b: number | undefined): number => round((a ?? NaN) / (b ?? NaN), 3);
  const figures: Record<string, unknown> = {
    messagesInFlight: MSGS_IN_FLIGHT,
    childNodeFlags: NODE_FLAGS,
    batch: BATCH,
    queues: QUEUES,
    memory: mem,
    nats,
    jetstream: js,
    ratios: Object.fromEntries([
      ...SIZES.flatMap((s) => [
        [`nats produce / JetStream async publish, ${s} B`, ratio(nats.produce[s]?.perSecond, js.asyncPublish[s]?.perSecond)],
        [`nats consume / JetStream consume, ${s} B`, ratio(nats.consume[s]?.perSecond, js.consume[s]?.perSecond)],
      ]),
      ['memory signed produce / unsigned produce, 100 B (median of pairs; signer and checker in one process)', mem.signedRatio ?? NaN],
      ['nats signed produce / unsigned produce, 100 B (median of pairs)', nats.signedRatio ?? NaN],
      ['nats produce observed and scraped / unobserved, 100 B (median of pairs)', nats.observedRatio ?? NaN],
    ]),
  };
  const table: Array<Record<string, string | number>> = [];
  for (const s of SIZES) {
    table.push({ what: `produce ${s} B`, memory: r(mem.produce[s]?.perSecond), nats: r(nats.produce[s]?.perSecond), jetstream: r(js.asyncPublish[s]?.perSecond), 'nats/js': ratio(nats.produce[s]?.perSecond, js.asyncPublish[s]?.perSecond), unit: 'msgs/s' });
    table.push({ what: `consume ${s} B`, memory: r(mem.consume[s]?.perSecond), nats: r(nats.consume[s]?.perSecond), jetstream: r(js.consume[s]?.perSecond), 'nats/js': ratio(nats.consume[s]?.perSecond, js.consume[s]?.perSecond), unit: 'msgs/s' });
  }
  table.push({ what: 'signed / unsigned produce 100 B', memory: round(mem.signedRatio ?? NaN), nats: round(nats.signedRatio ?? NaN), jetstream: '', 'nats/js': '', unit: 'ratio' });
  table.push({ what: 'observed+metrics / plain produce 100 B', memory: '', nats: round(nats.observedRatio ?? NaN), jetstream: '', 'nats/js': '', unit: 'ratio' });
  table.push({ what: 'e2e latency p50 @ half peak', memory: round(mem.latency?.consumed.p50Ms ?? NaN), nats: round(nats.latency?.consumed.p50Ms ?? NaN), jetstream: '', 'nats/js': '', unit: 'ms' });
  table.push({ what: 'e2e latency p99 @ half peak', memory: round(mem.latency?.consumed.p99Ms ?? NaN), nats: round(nats.latency?.consumed.p99Ms ?? NaN), jetstream: '', 'nats/js': '', unit: 'ms' });
  table.push({ what: 'sync send p99', memory: round(mem.syncSend?.p99Ms ?? NaN), nats: round(nats.syncSend?.p99Ms ?? NaN), jetstream: round(js.syncPublishP99Ms), 'nats/js': ratio(nats.syncSend?.p99Ms, js.syncPublishP99Ms), unit: 'ms' });
  const goals: Goal[] = [
    atLeast('nats produce / JetStream async publish', ratio(nats.produce[100]?.perSecond, js.asyncPublish[100]?.perSecond), 10, 'ratio'),
    atLeast('nats consume / JetStream consume', ratio(nats.consume[100]?.perSecond, js.consume[100]?.perSecond), 1, 'ratio'),
    atMost('sync send p99 / JetStream sync publish p99', ratio(nats.syncSend?.p99Ms, js.syncPublishP99Ms), 1.5, 'ratio'),
    atLeast('memory produce msgs/s', mem.produce[100]?.perSecond ?? 0, 500_000, 'msgs/s'),
    atLeast('memory consume msgs/s', mem.consume[100]?.perSecond ?? 0, 500_000, 'msgs/s'),
    // producers and brokers in their own processes, as they are deployed: over NATS
    atLeast('signed produce / unsigned produce', nats.signedRatio ?? NaN, 0.9, 'ratio'),
    // an observer attached (every process publishing its records) and the broker's metrics scraped, against neither
    atLeast('observed and metrics produce / plain produce', nats.observedRatio ?? NaN, 0.9, 'ratio'),
  ];
  return { figures, goals, table };
};

export default bench;

const MEMORY_FLOW = '--memory-flow';
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === MEMORY_FLOW) {
  const emit = (o: unknown): void => void process.stdout.write(JSON.stringify(o) + '\n');
  process.once('SIGTERM', () => process.exit(0)); // stopped by the bench: a CPU profile (--prof) is written
  memoryFlow(Number(process.argv[3]), Number(process.argv[4]), (m) => emit({ progress: m })).then(
    (result) => emit({ result }),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
