/**
 * The producers' side of a scenario: each workload sends at its rate on the run's clock, through its
 * producer process while that process runs, and writes every send into the history. A message's body starts
 * with its unique id (`<producer>-<n>`) and a newline; messages of one sharding key are sent one after the
 * other (the next once the previous is answered), numbered by `seq`. Transactional sends decide their local
 * outcome up front; an unknown outcome is settled, once, by the broker's check.
 */
import type { RandomSource } from '../core/random.js';
import { Status, StatusError, statusName } from '../core/status.js';
import type { Message, SendResult } from '../core/message.js';
import { delayForLevel } from '../actors/protocol/retry-delay.js';
import type { Producer } from '../actors/producer/producer.js';
import type { TransactionProducer, TxState } from '../actors/producer/transaction-producer.js';
import type { HistoryLog, SendValue, SentMessage } from './history.js';
import type { Workload } from './scenario-schema.js';
import type { Clock } from '../core/clock.js';
import { decodeMessageId } from '../store/message-id.js';

/**
 * What a workload needs of a cluster, simulated (SimCluster) or real (real/real-cluster.ts): the run's clock,
 * and a producer process's role while it runs, whether it is paused, and its incarnation.
 */
export interface WorkloadCluster {
  /** The run's clock: the history's times and the workloads' schedule. */
  readonly clock: Clock;
  /** The processes' wall clock at the run clock's 0 (0 in simulation): timer messages' deliver-at is wall time. */
  readonly epochMs: number;
  /** A process's role while it is up. */
  role<T extends { stop(): Promise<void> }>(id: string): T | undefined;
  paused(id: string): boolean;
  incarnation(id: string): number;
}

/** Refusals a broker answers before it writes anything. */
const NOT_STORED: ReadonlySet<number> = new Set([Status.IN_SYNC_REPLICAS_NOT_ENOUGH]);

const text = new TextEncoder();
const decoder = new TextDecoder();

/** The id a message body starts with. */
export function idOf(body: Uint8Array): string {
  const head = decoder.decode(body.subarray(0, Math.min(body.length, 80)));
  const nl = head.indexOf('\n');
  return nl < 0 ? head : head.slice(0, nl);
}

function bodyOf(id: string, size: number): Uint8Array {
  const b = new Uint8Array(Math.max(size, id.length + 1));
  b.set(text.encode(id));
  b[id.length] = 10;
  b.fill(120, id.length + 1);
  return b;
}

/** The broker that stored a send (the store host its msgId names) and, under a controller, the master epoch. */
function answeredBy(r: SendResult): Pick<SendValue, 'address' | 'epoch'> {
  const out: Pick<SendValue, 'address' | 'epoch'> = {};
  try {
    out.address = decodeMessageId(r.msgId).storeHost;
  } catch {
    // not a store id: the history goes without the address
  }
  if (r.epoch !== undefined) out.epoch = r.epoch;
  return out;
}

export class WorkloadDriver {
  /** Acknowledged ids (sends ok, transactions committed), with their topics: what the drain waits for. */
  readonly acked = new Map<string, string>();
  /** Sends invoked and not answered yet (the drain waits for them too: one may still be acknowledged). */
  inFlight = 0;
  private readonly counters = new Map<string, number>();
  private readonly seqs = new Map<string, number>();
  private readonly chains = new Map<string, Promise<void>>();
  /** Local transaction outcomes by message id; UNKNOWN ones get settled by the first check. */
  private readonly txOutcome = new Map<string, TxState>();
  private readonly txTopic = new Map<string, string>();

  constructor(
    private readonly cluster: WorkloadCluster,
    private readonly history: HistoryLog,
    private readonly random: RandomSource,
    private readonly orderedTopics: ReadonlySet<string>,
    /** Called once per id as it becomes acknowledged. */
    private readonly onAck: (id: string, topic: string) => void,
    /** Producers that try a send once (no retries): a refusal they get is the only answer there was. */
    private readonly singleAttempt: ReadonlySet<string> = new Set(),
  ) {}

  /** Schedules a workload whose `from` and `until` are times on the cluster's clock. */
  schedule(w: Workload): void {
    const clock = this.cluster.clock;
    const interval = Math.max(1, Math.round((1000 * w.batch) / w.rate));
    clock.setTimeout(() => {
      const h = clock.setInterval(() => {
        if (clock.now() >= w.until) clock.clearInterval(h);
        else this.tick(w);
      }, interval);
      this.tick(w);
    }, Math.max(0, w.from - clock.now()));
  }

  /** The check listener of a transactional producer: the local outcome, or for an unknown one a settled one. */
  checkOutcome(process: string, id: string): TxState {
    const local = this.txOutcome.get(id);
    if (local === undefined) return 'ROLLBACK'; // not ours (a half message of an earlier incarnation's unknown send)
    if (local !== 'UNKNOWN') return local;
    const settled: TxState = this.random.next() < 0.5 ? 'COMMIT' : 'ROLLBACK';
    this.txOutcome.set(id, settled);
    this.endTx(process, [id], settled);
    return settled;
  }

  private tick(w: Workload): void {
    const pid = w.producer;
    const producer = this.cluster.role<Producer>(pid);
    if (producer === undefined || this.cluster.paused(pid)) return; // the application is down
    const ordered = this.orderedTopics.has(w.topic) && w.keys !== undefined;
    const msgs: { msg: Message; sent: SentMessage }[] = [];
    for (let i = 0; i < w.batch; i++) msgs.push(this.message(w, ordered));
    if (w.tx) {
      for (const m of msgs) void this.sendTx(pid, producer as TransactionProducer, w, m);
    } else if (ordered) {
      for (const m of msgs) {
        const chain = `${pid}#${this.cluster.incarnation(pid)}/${m.sent.key}`;
        const next = (this.chains.get(chain) ?? Promise.resolve()).then(() => this.send(pid, producer, w.topic, [m]));
        this.chains.set(chain, next);
      }
    } else {
      void this.send(pid, producer, w.topic, msgs);
    }
  }

  private message(w: Workload, ordered: boolean): { msg: Message; sent: SentMessage } {
    const n = (this.counters.get(w.producer) ?? 0) + 1;
    this.counters.set(w.producer, n);
    const id = `${w.producer}-${n}`;
    const size = typeof w.size === 'number' ? w.size : w.size.min + this.random.int(w.size.max - w.size.min + 1);
    const msg: Message = { topic: w.topic, body: bodyOf(id, size) };
    const sent: SentMessage = { id };
    if (w.keys !== undefined) {
      const key = `k${this.random.int(w.keys)}`;
      if (ordered) {
        const seqKey = `${w.producer}/${key}`;
        const seq = (this.seqs.get(seqKey) ?? 0) + 1;
        this.seqs.set(seqKey, seq);
        msg.shardingKey = key;
        sent.key = key;
        sent.seq = seq;
      } else {
        msg.keys = [key];
      }
    }
    if (w.tags) msg.tags = w.tags[this.random.int(w.tags.length)]!;
    const now = this.cluster.clock.now();
    if (w.delayLevels) {
      const level = w.delayLevels[this.random.int(w.delayLevels.length)]!;
      msg.delayLevel = level;
      sent.notBefore = now + delayForLevel(level);
    } else if (w.timerMs) {
      const d = w.timerMs.min + this.random.int(w.timerMs.max - w.timerMs.min + 1);
      msg.deliverAt = this.cluster.epochMs + now + d;
      sent.notBefore = now + d;
    }
    return { msg, sent };
  }

  private async send(pid: string, producer: Producer, topic: string, msgs: { msg: Message; sent: SentMessage }[]): Promise<void> {
    const value: SendValue = { topic, messages: msgs.map((m) => m.sent) };
    this.history.add(pid, 'invoke', 'send', value);
    this.inFlight++;
    try {
      const results: SendResult[] = msgs.length === 1 ? [await producer.send(msgs[0]!.msg)] : await producer.sendBatch(msgs.map((m) => m.msg));
      this.sendResult(pid, value, results);
    } catch (err) {
      this.sendFailed(pid, value, err);
    } finally {
      this.inFlight--;
    }
  }

  private sendResult(pid: string, value: SendValue, results: SendResult[]): void {
    const notOk = results.find((r) => r.status !== 'SEND_OK');
    const first = results[0]!;
    const q = first.queue;
    const where: Pick<SendValue, 'broker' | 'queueId' | 'address' | 'epoch'> = { broker: q.brokerName, queueId: q.queueId, ...answeredBy(first) };
    if (notOk) {
      this.history.add(pid, 'info', 'send', { ...value, ...where, status: notOk.status });
      return;
    }
    this.history.add(pid, 'ok', 'send', { ...value, ...where });
    if (!value.tx) for (const m of value.messages) this.ack(m.id, value.topic);
  }

  /**
   * A send that threw: ambiguous (it may have been stored), unless its one attempt was refused before anything
   * was written (a sync master short of in-sync replicas): then it failed. With retries, the last refusal says
   * nothing of the earlier attempts.
   */
  private sendFailed(pid: string, value: SendValue, err: unknown): void {
    const status = err instanceof StatusError ? statusName(err.status) : String(err);
    const refused = err instanceof StatusError && NOT_STORED.has(err.status) && !value.tx && this.singleAttempt.has(pid);
    this.history.add(pid, refused ? 'fail' : 'info', 'send', { ...value, status });
  }

  private async sendTx(pid: string, producer: TransactionProducer, w: Workload, m: { msg: Message; sent: SentMessage }): Promise<void> {
    const id = m.sent.id;
    const draw = this.random.next();
    const local: TxState = draw < w.tx!.commit ? 'COMMIT' : draw < w.tx!.commit + w.tx!.rollback ? 'ROLLBACK' : 'UNKNOWN';
    this.txOutcome.set(id, local);
    this.txTopic.set(id, w.topic);
    const value: SendValue = { topic: w.topic, messages: [m.sent], tx: true };
    this.history.add(pid, 'invoke', 'send', value);
    this.inFlight++;
    try {
      await producer.sendInTransaction(m.msg, (_msg, result) => {
        this.sendResult(pid, value, [result]);
        this.endTx(pid, [id], local);
        return local;
      });
    } catch (err) {
      this.sendFailed(pid, value, err);
    } finally {
      this.inFlight--;
    }
  }

  private endTx(pid: string, ids: string[], state: TxState): void {
    const outcome = state === 'COMMIT' ? 'commit' : state === 'ROLLBACK' ? 'rollback' : 'unknown';
    this.history.add(pid, state === 'UNKNOWN' ? 'info' : 'ok', 'tx-end', { ids, outcome });
    if (state === 'COMMIT') for (const id of ids) this.ack(id, this.txTopic.get(id)!);
  }

  private ack(id: string, topic: string): void {
    if (this.acked.has(id)) return;
    this.acked.set(id, topic);
    this.onAck(id, topic);
  }
}
