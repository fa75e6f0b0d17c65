/**
 * Hostile frames for brokers and name servers: every request code (and codes nobody serves), headers whose
 * fields are missing, of the wrong type, out of range or huge, and bodies that are random, truncated, bit-flipped
 * or lie about their counts (message batches, JSON documents of the wrong shape). A run sends them to live actors
 * and counts what came back: every request must be answered with a status, and no actor may stop.
 *
 * The frames come from a RandomSource, so a seed gives the same frames; what the actors answer depends on the
 * transport and the time they run on.
 */
import type { RandomSource } from '../core/random.js';
import { encodeMessageBatch } from '../core/message-codec.js';
import type { Message } from '../core/message.js';
import { Status } from '../core/status.js';
import { FrameKind, type Frame, type Header, type HeaderValue } from '../transports/frame.js';
import { TransportError, type Transport } from '../transports/transport.js';
import { decodeFrame, encodeFrame } from '../transports/codec.js';
import { RequestCode } from '../actors/protocol/request-codes.js';
import { brokerAddress, namesrvAddress } from '../actors/protocol/commands.js';
import { BROKER_HANDLERS } from '../actors/broker/handlers/dispatch.js';
import type { Producer, ProducerOptions } from '../actors/producer/producer.js';
import type { Consumer } from '../actors/consumer/consumer.js';
import type { ConsumerOptions } from '../actors/consumer/consumer-options.js';

/** Topics and groups the frames name most of the time (so that they reach past "no such topic"). */
export const FUZZ_TOPICS = ['fuzz-a', 'fuzz-b', 'TBW102'] as const;
const GROUPS = ['fuzz-cg', 'fuzz-pg', '%RETRY%fuzz-cg'];

const KNOWN_CODES: readonly number[] = Object.values(RequestCode);

/** Header fields the broker's and the name server's handlers read. */
const FIELDS = [
  'topic', 'queueId', 'queueOffset', 'consumerGroup', 'producerGroup', 'maxMsgNums', 'maxBytes', 'suspendTimeoutMs',
  'subExpression', 'msgId', 'key', 'maxNum', 'clientId', 'instance', 'timestamp', 'bornHost', 'bornTimestamp',
  'delayLevel', 'maxReconsumeTimes', 'transactionState', 'halfOffset', 'fromTransactionCheck', 'batch', 'cluster',
  'brokerName', 'brokerId', 'address', 'part', 'parts', 'registration', 'after', 'bodyEncoding', 'commitOffset',
] as const;

const pick = <T>(r: RandomSource, xs: readonly T[]): T => xs[r.int(xs.length)]!;
const chance = (r: RandomSource, p: number): boolean => r.next() < p;

/** A size that is usually small and now and then large (up to `max`). */
function size(r: RandomSource, max: number): number {
  return Math.min(max, Math.floor(Math.pow(2, r.next() * Math.log2(max + 1))) - 1);
}

function text(r: RandomSource, max: number): string {
  const n = size(r, max);
  const alphabets = ['abcXYZ019_-%|', '../\\:*?"<>\0\n ', '\u00e9\u6f22\u5b57\ud83d\udca5'];
  const a = pick(r, alphabets);
  let s = '';
  for (let i = 0; i < n; i++) s += a[r.int(a.length)];
  return s;
}

function hostileNumber(r: RandomSource): number {
  return pick(r, [-1, 0, 1, 2, 7, 255, 256, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, -(2 ** 53), 1.5, 1e300, -0]);
}

/** A field's value: usually one that makes sense for it, else of a wrong type or out of range. */
function fieldValue(r: RandomSource, field: string): HeaderValue {
  const roll = r.next();
  if (roll < 0.15) return hostileNumber(r);
  if (roll < 0.25) return text(r, chance(r, 0.1) ? 20_000 : 200);
  if (roll < 0.3) return chance(r, 0.5);
  switch (field) {
    case 'topic':
      return pick(r, FUZZ_TOPICS);
    case 'consumerGroup':
    case 'producerGroup':
      return pick(r, GROUPS);
    case 'subExpression':
      return pick(r, ['*', 'a || b', '', '||', 'a||||b', '*||x']);
    case 'msgId':
      return pick(r, ['', '0A000001000000000000000000000000', 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF', text(r, 60)]);
    case 'transactionState':
      return pick(r, ['COMMIT', 'ROLLBACK', 'UNKNOWN', 'commit']);
    case 'bodyEncoding':
      return pick(r, ['deflate', 'gzip', '']);
    default:
      return r.int(8);
  }
}

/**
 * A header of hostile fields. `suspendTimeoutMs` stays at most `maxSuspendMs` when it is a number: a held pull is
 * answered within the time it asks for, and a fuzz run waits only so long for each answer.
 */
function header(r: RandomSource, maxSuspendMs: number): Header {
  const h: Record<string, HeaderValue> = {};
  for (const f of FIELDS) if (chance(r, 0.45)) h[f] = fieldValue(r, f);
  if (typeof h.suspendTimeoutMs === 'number' && !(h.suspendTimeoutMs <= maxSuspendMs)) h.suspendTimeoutMs = maxSuspendMs;
  if (chance(r, 0.05)) for (let i = 0, n = size(r, 300); i < n; i++) h[`x${i}`] = text(r, 40);
  return h;
}

function messages(r: RandomSource): Message[] {
  const out: Message[] = [];
  for (let i = 0, n = 1 + size(r, 40); i < n; i++) {
    const m: Message = { topic: pick(r, FUZZ_TOPICS), body: r.bytes(size(r, 2048)) };
    if (chance(r, 0.3)) m.tags = pick(r, ['a', 'b', text(r, 30)]);
    if (chance(r, 0.2)) m.keys = [text(r, 20)];
    if (chance(r, 0.1)) m.properties = { [text(r, 10) || 'p']: text(r, 50) };
    if (chance(r, 0.05)) m.delayLevel = r.int(30);
    out.push(m);
  }
  return out;
}

/** A JSON value: the shapes the control plane reads (offsets, queues, heartbeats, topic configs), often wrong. */
function json(r: RandomSource, depth = 0): unknown {
  const roll = r.next();
  if (depth > 3 || roll < 0.2) return pick(r, [null, true, hostileNumber(r), text(r, 50), FUZZ_TOPICS[0]]);
  if (roll < 0.35) return Array.from({ length: size(r, 20) }, () => json(r, depth + 1));
  const keys = ['offsets', 'queues', 'topics', 'consumers', 'producerGroups', 'dataVersion', 'topicName', 'readQueueNums',
    'writeQueueNums', 'perm', 'topicSysFlag', 'group', 'subscriptions', 'messageModel', 'topic', 'queueId', 'offset', 'timestamp',
    'counter', 'outcomes', 'clientIds'];
  const o: Record<string, unknown> = {};
  for (let i = 0, n = 1 + r.int(6); i < n; i++) o[pick(r, keys)] = json(r, depth + 1);
  return o;
}

/** Overwrites, cuts or lengthens bytes: what a buggy or hostile client sends instead of a well-formed body. */
function mutate(r: RandomSource, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b);
  switch (r.int(4)) {
    case 0:
      return out.subarray(0, r.int(out.length + 1)); // truncated
    case 1:
      for (let i = 0, n = 1 + r.int(8); i < n && out.length > 0; i++) out[r.int(out.length)] ^= 1 << r.int(8);
      return out;
    case 2: {
      // a count or length that lies: a large u32 somewhere in the first bytes
      if (out.length >= 4) new DataView(out.buffer, out.byteOffset).setUint32(r.int(Math.min(out.length, 64) - 3), pick(r, [0xffffffff, 0x7fffffff, 1 << 24, 65536]));
      return out;
    }
    default: {
      const tail = r.bytes(size(r, 512));
      const grown = new Uint8Array(out.length + tail.length);
      grown.set(out);
      grown.set(tail, out.length);
      return grown;
    }
  }
}

function body(r: RandomSource, maxBytes: number): Uint8Array {
  switch (r.int(5)) {
    case 0:
      return new Uint8Array(0);
    case 1:
      return r.bytes(size(r, Math.min(maxBytes, 64 * 1024)));
    case 2: {
      const b = encodeMessageBatch(messages(r));
      return chance(r, 0.6) ? mutate(r, b) : b;
    }
    default: {
      const b = Buffer.from(JSON.stringify(json(r)) ?? 'null');
      return chance(r, 0.3) ? mutate(r, b) : b;
    }
  }
}

export interface FuzzTarget {
  /** The address frames go to. */
  to: string;
  /** The request codes it serves (most frames carry one of these; the others any code at all). */
  codes: readonly number[];
}

/** What a name server serves. */
const NAMESRV_CODES: readonly number[] = [
  RequestCode.REGISTER_BROKER,
  RequestCode.UNREGISTER_BROKER,
  RequestCode.GET_ROUTEINFO_BY_TOPIC,
  RequestCode.GET_BROKER_CLUSTER_INFO,
  RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
  RequestCode.DELETE_TOPIC_IN_NAMESRV,
];

/** The masters of `brokers` (names) and the name servers `namesrv` (ids), as fuzz targets. */
export function clusterTargets(brokers: readonly string[], namesrv: readonly string[]): FuzzTarget[] {
  const brokerCodes = [...BROKER_HANDLERS.keys()];
  return [...brokers.map((b) => ({ to: brokerAddress(b), codes: brokerCodes })), ...namesrv.map((id) => ({ to: namesrvAddress(id), codes: NAMESRV_CODES }))];
}

/** One hostile frame for one of `targets`. Requests mostly; one-way frames now and then (no answer expected). */
export function fuzzFrame(r: RandomSource, targets: readonly FuzzTarget[], opts: { maxBodyBytes?: number; maxSuspendMs?: number } = {}): { to: string; frame: Frame } {
  const t = pick(r, targets);
  const roll = r.next();
  const code = roll < 0.75 ? pick(r, t.codes) : roll < 0.92 ? pick(r, KNOWN_CODES) : r.int(65536);
  const kind = chance(r, 0.08) ? FrameKind.OneWay : FrameKind.Request;
  return { to: t.to, frame: { kind, code, requestId: 0, status: chance(r, 0.05) ? r.int(65536) : 0, header: header(r, opts.maxSuspendMs ?? 500), body: body(r, opts.maxBodyBytes ?? 256 * 1024) } };
}

/**
 * The bytes of a frame as another transport would put them on the wire, then cut, flipped, lengthened or made to
 * lie about a length (`mutate`): what a client that speaks the wire format badly sends. `expectReply`: a receiver
 * must answer it (it still decodes as a request, or it does not decode at all and the receiver says BAD_FRAME).
 */
export function fuzzWireFrame(r: RandomSource, targets: readonly FuzzTarget[], opts: { maxSuspendMs?: number } = {}): { to: string; bytes: Uint8Array; expectReply: boolean } {
  const { to, frame } = fuzzFrame(r, targets, { maxBodyBytes: 16 * 1024, ...opts });
  const bytes = mutate(r, encodeFrame({ ...frame, requestId: 1 + r.int(0xfffffff) }));
  let expectReply = true;
  try {
    const f = decodeFrame(bytes);
    const suspend = f.header.suspendTimeoutMs;
    // a frame that still decodes is answered when it is a request that asks for no longer hold than the run waits
    expectReply = f.kind === FrameKind.Request && !(typeof suspend === 'number' && suspend > (opts.maxSuspendMs ?? 500));
  } catch {
    // not a frame: answered BAD_FRAME
  }
  return { to, bytes, expectReply };
}

export interface FuzzCounts {
  /** Frames sent (requests and one-way). */
  frames: number;
  requests: number;
  /** Requests answered, by status name or number. */
  answered: number;
  byStatus: Record<string, number>;
  /** Requests that timed out: no status reply. The goal is none. */
  unanswered: number;
  /** Frames the sending transport refused itself (over its frame limit): they never reached the target. */
  refusedBySender: number;
  /** Examples of unanswered requests (code and header), for the report. */
  unansweredExamples: { to: string; code: number; header: Header; bodyBytes: number }[];
}

/** What every fuzz run takes. */
export interface FuzzRunBase {
  random: RandomSource;
  targets: readonly FuzzTarget[];
  frames: number;
  /** Requests in flight at once (default 16). */
  concurrency?: number;
  /** How long a request waits for its answer (default 5000 ms; more than `maxSuspendMs`). */
  timeoutMs?: number;
  /** The longest a frame asks a pull to be held (default 500 ms). */
  maxSuspendMs?: number;
  /** No frame is sent after this (real time, ms since the epoch): the run ends early, `frames` says how many went. */
  deadline?: number;
}

export interface FuzzRunOptions extends FuzzRunBase {
  transport: Pick<Transport, 'request' | 'send' | 'maxPayload'>;
  /** Called every `every` frames with the counts so far. */
  progress?: (c: FuzzCounts) => void;
  every?: number;
}

/** Runs `one` `o.frames` times (until the deadline), `o.concurrency` at a time. */
async function inLanes(o: FuzzRunBase, one: () => Promise<void>): Promise<void> {
  let left = o.frames;
  const lane = async (): Promise<void> => {
    while (left > 0 && (o.deadline === undefined || Date.now() < o.deadline)) {
      left--;
      await one();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 16) }, lane));
}

const statusNames = new Map<number, string>(Object.entries(Status).map(([k, v]) => [v as number, k]));

/** Sends `frames` fuzz frames, `concurrency` at a time, and counts the answers. */
export async function runFrameFuzz(o: FuzzRunOptions): Promise<FuzzCounts> {
  const c: FuzzCounts = { frames: 0, requests: 0, answered: 0, byStatus: {}, unanswered: 0, refusedBySender: 0, unansweredExamples: [] };
  const timeoutMs = o.timeoutMs ?? 5000;
  const every = o.every ?? 1000;
  const one = async (): Promise<void> => {
    const { to, frame } = fuzzFrame(o.random, o.targets, { maxBodyBytes: o.transport.maxPayload, maxSuspendMs: o.maxSuspendMs ?? 500 });
    c.frames++;
    if (c.frames % every === 0) o.progress?.(c);
    try {
      if (frame.kind === FrameKind.OneWay) {
        o.transport.send(to, frame);
        return;
      }
      c.requests++;
      const reply = await o.transport.request(to, frame, { timeoutMs });
      c.answered++;
      const name = statusNames.get(reply.status) ?? String(reply.status);
      c.byStatus[name] = (c.byStatus[name] ?? 0) + 1;
    } catch (err) {
      if (err instanceof TransportError && err.code === 'PAYLOAD_TOO_LARGE') c.refusedBySender++;
      else if (err instanceof TransportError && err.code === 'TIMEOUT') {
        c.unanswered++;
        if (c.unansweredExamples.length < 5) c.unansweredExamples.push({ to, code: frame.code, header: frame.header, bodyBytes: frame.body.length });
      } else throw err;
    }
  };
  await inLanes(o, one);
  return c;
}

/** What an ordinary round needs of a running system (MqSystem has it). */
export interface ClientSpawner {
  spawnProducer(opts: ProducerOptions): Promise<Producer>;
  spawnConsumer(opts: ConsumerOptions): Promise<Consumer>;
}

/**
 * An ordinary produce and consume round, as after a fuzz run: `count` messages sent to `topic` (created on
 * the first send) and consumed by a new group from the first offset. Resolves with how many of those were
 * acknowledged and consumed; rejects when a send fails or not all arrive within `timeoutMs` (real time).
 */
export async function ordinaryRound(system: ClientSpawner, namesrv: string[], topic: string, count = 20, timeoutMs = 20_000): Promise<{ acked: number; consumed: number }> {
  const producer = await system.spawnProducer({ group: `${topic}-pg`, namesrv, sendTimeoutMs: 3000 });
  const sent = new Set<string>();
  const seen = new Set<string>();
  let consumer: Consumer | undefined;
  try {
    for (let i = 0; i < count; i++) {
      const r = await producer.send({ topic, body: Buffer.from(`${topic}-${i}`) });
      if (r.status !== 'SEND_OK') throw new Error(`send ${i} of the ordinary round: ${r.status}`);
      sent.add(`${topic}-${i}`);
    }
    let done: () => void = () => undefined;
    const all = new Promise<void>((resolve) => (done = resolve));
    consumer = await system.spawnConsumer({
      group: `${topic}-cg`,
      namesrv,
      subscribe: { [topic]: '*' },
      consumeFrom: 'first',
      listener: (msgs) => {
        for (const m of msgs) seen.add(Buffer.from(m.body).toString());
        if ([...sent].every((b) => seen.has(b))) done();
        return 'SUCCESS';
      },
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([all, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`the ordinary round consumed ${seen.size} of ${sent.size} within ${timeoutMs} ms`)), timeoutMs)))]).finally(() => clearTimeout(timer));
    return { acked: sent.size, consumed: seen.size };
  } finally {
    await consumer?.stop();
    await producer.stop();
  }
}

/** The part of a NATS connection a wire fuzz run uses (`NatsConnection` has it). */
export interface WireSender {
  request(subject: string, data: Uint8Array, opts: { timeout: number }): Promise<unknown>;
  publish(subject: string, data: Uint8Array): void;
}

export interface WireFuzzCounts {
  frames: number;
  /** Frames a receiver must answer (see fuzzWireFrame). */
  expected: number;
  answered: number;
  /** Of those, not answered within the timeout. The goal is none. */
  unanswered: number;
}

/**
 * Sends `frames` mangled wire frames straight onto the NATS subjects of `targets` (`<prefix>.<address>`), past
 * any transport's encoder, `concurrency` at a time, and counts the answers to those that must get one.
 */
export async function runWireFuzz(o: FuzzRunBase & { wire: WireSender; prefix: string }): Promise<WireFuzzCounts> {
  const c: WireFuzzCounts = { frames: 0, expected: 0, answered: 0, unanswered: 0 };
  await inLanes(o, async () => {
    const { to, bytes, expectReply } = fuzzWireFrame(o.random, o.targets, { maxSuspendMs: o.maxSuspendMs ?? 500 });
    c.frames++;
    const subject = `${o.prefix}.${to}`;
    if (!expectReply) {
      o.wire.publish(subject, bytes);
      return;
    }
    c.expected++;
    try {
      await o.wire.request(subject, bytes, { timeout: o.timeoutMs ?? 5000 });
      c.answered++;
    } catch {
      c.unanswered++;
    }
  });
  return c;
}
