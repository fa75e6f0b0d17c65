#!/usr/bin/env node
/**
 * A producer, consumer or loader of `bench omb` in its own process, ours or JetStream's, on NATS:
 *   node worker.js '<json: WorkerConfig>'
 * Line protocol (one JSON object per stdout line; logs go to stderr):
 *  - it prints {"ready":true} once connected (a producer: routes known; a consumer: consuming);
 *  - "go <wall ms>": a producer runs its timeline from that wall-clock time and prints {"result":...}; a loader
 *    stores its `count` messages as fast as it can and prints {"result":...};
 *  - "window <from> <to>" (wall ms): a consumer counts the arrivals in it apart;
 *  - "count": {"count": messages acknowledged (producer, loader) or received (consumer), "at": wall ms};
 *  - "queues" (a consumer of ours): {"queues": queues it holds};
 *  - "stop" (a consumer): stops and prints {"result":...}.
 * A body's first 8 bytes are its due time on the wall clock (little-endian float64), byte 8 says whether it is
 * measured (1) or sent in the warm-up (2); a loader's bodies are not stamped (0). The consumer's end-to-end latency
 * is its arrival on the wall clock minus that stamp: one machine, one clock.
 */
import { createInterface } from 'node:readline';
import pino from 'pino';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type ConsumerMessages } from '@nats-io/jetstream';
import type { Message, MessageExt } from '../../core/message.js';
import { realEnvironment } from '../../actors/runtime/environment.js';
import { ActorSystem } from '../../actors/runtime/system.js';
import { startProducer } from '../../actors/producer/producer.js';
import { startConsumer } from '../../actors/consumer/consumer.js';
import { machineMs, perfToMachineMs } from '../machine-clock.js';
import { diskStorage } from '../../store/backends/disk.js';
import { natsTransport } from '../../transports/nats.js';
import { runTimeline, type TimelineRun, type TimelineSpec } from './timeline.js';

export interface WorkerConfig {
  side: 'ours' | 'js';
  role: 'producer' | 'consumer' | 'loader';
  nats: string;
  /** Ours: the NATS subject prefix and the name servers. */
  prefix?: string;
  namesrv?: string[];
  /** JetStream: the stream, and (consumer) its durable consumer. */
  stream?: string;
  /** Ours: topic names; JetStream: subjects. A producer sends to them in turn. */
  topics: string[];
  /** Ours: the consumer group; JetStream: the durable consumer's name. */
  group?: string;
  messageBytes: number;
  /** Producer: its share of the rate, and the run. */
  timeline?: TimelineSpec;
  /** Loader: messages to store. */
  count?: number;
  /** Consumer: count only, keep no latencies (the backlog's drain). */
  noLatency?: boolean;
}

export interface ProducerResult extends Omit<TimelineRun, 'publishMs'> {
  /** Publish latencies of the measured messages (ms, rounded to µs). */
  publishMs: number[];
}

export interface ConsumerResult {
  /** Every message received. */
  messages: number;
  /** Measured messages received, and their end-to-end latencies (ms, rounded to µs). */
  measured: number;
  e2eMs: number[];
  /** Messages received within the window. */
  inWindow: number;
}

export interface LoaderResult {
  messages: number;
  failed: number;
  seconds: number;
  perSecond: number;
}

/** Wall clock with sub-millisecond resolution, comparable between processes of one machine. */
const wallMs = machineMs;
const nowMs = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const roundUs = (ms: number): number => Math.round(ms * 1000) / 1000;

/** Writes one JSON line; resolves once it is out (a result line is larger than the pipe holds, and the process exits after it). */
function emit(o: unknown): Promise<void> {
  return new Promise((resolve) => process.stdout.write(JSON.stringify(o) + '\n', () => resolve()));
}

/** A body stamped with `dueWall`, measured or not; at least 9 bytes. */
function stampedBody(size: number, dueWall: number, measured: boolean): Uint8Array {
  const b = new Uint8Array(Math.max(size, 9));
  new DataView(b.buffer).setFloat64(0, dueWall, true);
  b[8] = measured ? 1 : 2;
  return b;
}

/** Counts and latencies of what a consumer receives, whichever side delivers it. */
class Arrivals {
  constructor(private readonly latencies: boolean) {}
  messages = 0;
  measured = 0;
  inWindow = 0;
  readonly e2eMs: number[] = [];
  window: [number, number] = [Infinity, -Infinity];

  see(body: Uint8Array): void {
    const w = wallMs();
    this.messages++;
    if (w >= this.window[0] && w <= this.window[1]) this.inWindow++;
    if (this.latencies && body.length >= 9 && body[8] === 1) {
      this.measured++;
      this.e2eMs.push(roundUs(w - new DataView(body.buffer, body.byteOffset, 8).getFloat64(0, true)));
    }
  }

  result(): ConsumerResult {
    return { messages: this.messages, measured: this.measured, e2eMs: this.e2eMs, inWindow: this.inWindow };
  }
}

/** What one role does on each side. */
interface Role {
  /** "go": the producer's timeline or the loader's run. */
  go?(startWall: number): Promise<unknown>;
  count(): number;
  queues?(): number;
  /** Consumers: count the arrivals in this wall-clock window apart. */
  setWindow?(w: [number, number]): void;
  /** Consumers: stop and report. */
  stop?(): Promise<ConsumerResult>;
  /** Producers: end the timeline now (the backlog's producers, once the consumers caught up). */
  halt?(): void;
  close(): Promise<void>;
}

function producerResult(run: TimelineRun): ProducerResult {
  return { ...run, publishMs: run.publishMs.map(roundUs) };
}

/** Sends `count` messages of `size` bytes with `send(n)` (n messages at a time, `inFlight` calls at once). */
async function load(count: number, batch: number, inFlight: number, send: (n: number) => Promise<void>): Promise<LoaderResult> {
  let next = 0;
  let acked = 0;
  let failed = 0;
  const t0 = nowMs();
  const loop = async (): Promise<void> => {
    while (next < count) {
      const n = Math.min(batch, count - next);
      next += n;
      try {
        await send(n);
        acked += n;
      } catch {
        // a batch refused (the broker busy): sent again, bounded by the run's own time limit
        next -= n;
        failed += n;
        await sleep(20);
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  const seconds = (nowMs() - t0) / 1000;
  return { messages: acked, failed, seconds, perSecond: acked / seconds };
}

// ------------------------------------------------------------------------------------------- ours

async function ours(cfg: WorkerConfig): Promise<Role> {
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn', base: undefined }, pino.destination(2));
  const env = await realEnvironment({
    transport: natsTransport({ servers: cfg.nats, prefix: cfg.prefix!, name: `omb-${cfg.role}` }),
    storage: () => diskStorage(),
    logger,
  });
  const system = new ActorSystem(env);
  const namesrv = cfg.namesrv!;
  if (cfg.role === 'consumer') {
    const arrivals = new Arrivals(cfg.noLatency !== true);
    const consumer = await startConsumer(system, {
      group: cfg.group!,
      namesrv,
      subscribe: Object.fromEntries(cfg.topics.map((t) => [t, '*'])),
      consumeFrom: 'first',
      // pulls as big as the broker serves, listener batches of 32: what a consumer meant to keep up sets
      pullBatch: 256,
      consumeBatchSize: 32,
      maxCachedMessagesPerQueue: 4096,
      listener: (msgs: MessageExt[]) => {
        for (const m of msgs) arrivals.see(m.body);
        return 'SUCCESS';
      },
    });
    return {
      count: () => arrivals.messages,
      queues: () => consumer.assignment().length,
      setWindow: (w) => (arrivals.window = w),
      stop: async () => {
        await consumer.stop();
        return arrivals.result();
      },
      close: () => system.stop(),
    };
  }
  const producer = await startProducer(system, { group: `omb-pg-${cfg.role}`, namesrv, batchMaxBytes: 1024 * 1024 });
  for (const t of cfg.topics) await producer.queues(t); // routes known before the clock starts
  let acked = 0;
  const close = async (): Promise<void> => {
    await producer.stop();
    await system.stop();
  };
  if (cfg.role === 'loader') {
    const body = new Uint8Array(cfg.messageBytes).fill(7);
    const topic = cfg.topics[0]!;
    return {
      go: () =>
        load(cfg.count ?? 0, 256, 8, async (n) => {
          const msgs: Message[] = Array.from({ length: n }, () => ({ topic, body }));
          await producer.sendBatch(msgs);
          acked += n;
        }),
      count: () => acked,
      close,
    };
  }
  const topics = cfg.topics;
  const halt = new AbortController();
  return {
    go: async (startWall) =>
      producerResult(
        await runTimeline(startWall - perfToMachineMs, cfg.timeline!, async (i, due, measured) => {
          // one send per message, as a user sends
          await producer.send({ topic: topics[i % topics.length]!, body: stampedBody(cfg.messageBytes, due + perfToMachineMs, measured) });
          acked++;
        }, halt.signal),
      ),
    count: () => acked,
    halt: () => halt.abort(),
    close,
  };
}

// ------------------------------------------------------------------------------------------- JetStream

async function jetStream(cfg: WorkerConfig): Promise<Role> {
  const nc: NatsConnection = await connect({ servers: cfg.nats, name: `omb-js-${cfg.role}` });
  const js: JetStreamClient = jetstream(nc);
  const close = async (): Promise<void> => {
    await nc.close();
  };
  if (cfg.role === 'consumer') {
    const arrivals = new Arrivals(cfg.noLatency !== true);
    const c = await js.consumers.get(cfg.stream!, cfg.group!);
    // as fast as it can: a pull consumer keeping up to 1024 messages asked for, each handed to a callback
    const messages: ConsumerMessages = await c.consume({ max_messages: 1024, callback: (m) => arrivals.see(m.data) });
    return {
      count: () => arrivals.messages,
      setWindow: (w) => (arrivals.window = w),
      stop: async () => {
        await messages.close().catch(() => undefined);
        return arrivals.result();
      },
      close,
    };
  }
  let acked = 0;
  if (cfg.role === 'loader') {
    const body = new Uint8Array(cfg.messageBytes).fill(7);
    const subject = cfg.topics[0]!;
    // Batched as ours is (8 batches of 256 in flight): JetStream 2.9 has no batch publish, so a batch is n - 1
    // plain NATS publishes to the stream's subject and one JetStream publish whose acknowledgement comes after
    // the stream stored the messages before it (one connection, in order). The stream's count is checked after.
    return {
      go: async () => {
        const r = await load(cfg.count ?? 0, 256, 8, async (n) => {
          for (let k = 1; k < n; k++) nc.publish(subject, body);
          await js.publish(subject, body);
          acked += n;
        });
        const info = await (await jetstreamManager(nc)).streams.info(cfg.stream!);
        if (info.state.messages < r.messages) throw new Error(`the stream holds ${info.state.messages} of ${r.messages} messages loaded`);
        return r;
      },
      count: () => acked,
      close,
    };
  }
  const subjects = cfg.topics;
  const halt = new AbortController();
  return {
    go: async (startWall) =>
      producerResult(
        await runTimeline(startWall - perfToMachineMs, cfg.timeline!, async (i, due, measured) => {
          await js.publish(subjects[i % subjects.length]!, stampedBody(cfg.messageBytes, due + perfToMachineMs, measured));
          acked++;
        }, halt.signal),
      ),
    count: () => acked,
    halt: () => halt.abort(),
    close,
  };
}

// ------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
  const role = cfg.side === 'ours' ? await ours(cfg) : await jetStream(cfg);
  const lines = createInterface({ input: process.stdin });
  // the parent going away ends this process
  lines.once('close', () => process.exit(3));
  // stopped by the bench
  process.once('SIGTERM', () => process.exit(0));
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  lines.on('line', (line) => {
    const [cmd, a, b] = line.trim().split(/\s+/);
    if (cmd === 'count') void emit({ count: role.count(), at: wallMs() });
    else if (cmd === 'queues') void emit({ queues: role.queues?.() ?? 0 });
    else if (cmd === 'window') role.setWindow?.([Number(a), Number(b)]);
    else if (cmd === 'halt') role.halt?.();
    else if (cmd === 'go' && role.go) {
      role.go(Number(a)).then(
        (result) => emit({ result }).then(finished),
        (err: unknown) => {
          process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
          process.exit(1);
        },
      );
    } else if (cmd === 'stop' && role.stop) {
      role.stop().then(
        (result) => emit({ result }).then(finished),
        (err: unknown) => {
          process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
          process.exit(1);
        },
      );
    }
  });
  void emit({ ready: true });
  await done;
  await role.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
