/**
 * One pass over a history that gathers what the checks read: every message id that a `send` invoked (with its
 * topic, key, seq, notBefore, producer, how its sends and its transaction ended), every delivery of a `receive`,
 * the offset `commit` and `fetch-offset` ops, the nemesis ops and the runner's `drain`.
 *
 * A completion (`ok`, `fail`, `info`) belongs to the invoke in flight of the same process, f and message ids
 * (Jepsen style, with many operations in flight per process); a send or tx-end still in flight when the history
 * ends counts as `info`.
 */
import type { CommitValue, HistoryOp, ReceiveValue, SendValue, SentMessage, TxEndValue } from '../history.js';
import { NemesisIndex } from './nemesis.js';
import { HistoryCheckError } from './types.js';

/** Nemesis faults that take a process down as a power loss would (what was not flushed is gone). */
const POWER_LOSS = new Set(['crash', 'bitflip', 'truncate']);

export interface MessageRecord {
  id: string;
  topic: string;
  key?: string;
  seq?: number;
  notBefore?: number;
  /** The process of its first send invoke. */
  producer: string;
  tx: boolean;
  /** Index and time of its first send invoke. */
  firstInvoke: number;
  invokeTime: number;
  /** Send invokes that carried it (more than one: a retry). */
  invokes: number;
  /** Index and time of the first ok send carrying it. */
  okOp?: number;
  okTime?: number;
  /** The broker that acknowledged it (the first ok send's). */
  okBroker?: string;
  /** Some send carrying it ended info or never ended. */
  ambiguousSend: boolean;
  failedSend: boolean;
  /** The earliest `tx-end` invoke (or completion without invoke) naming it: a half message is invisible before. */
  txEndFrom?: { op: number; time: number };
  /** The first `tx-end` that ended ok with commit / rollback. */
  txCommit?: { op: number; time: number };
  txRollback?: { op: number; time: number };
}

export interface Delivery {
  op: number;
  time: number;
  consumer: string;
  group: string;
  id: string;
  result: 'SUCCESS' | 'RETRY';
  broker: string;
  queueId: number;
  offset: number;
}

/** An ok send answered by a broker under an HA controller: which master epoch, which broker, when. */
export interface EpochAck {
  op: number;
  time: number;
  /** The invoke's index and time (the completion's own when there is no invoke). */
  invokeOp: number;
  invokeTime: number;
  process: string;
  /** The broker group (the send's `broker`). */
  group: string;
  /** The broker that stored it (`address`), when the history says. */
  address?: string;
  epoch: number;
  ids: string[];
}

export interface OffsetOp {
  op: number;
  time: number;
  kind: 'commit' | 'fetch-offset';
  value: CommitValue;
}

export interface HistoryModel {
  messages: Map<string, MessageRecord>;
  /** In history order. */
  deliveries: Delivery[];
  /** In history order. */
  offsetOps: OffsetOp[];
  /** Ok sends that carry a master epoch, in history order. */
  epochAcks: EpochAck[];
  nemesis: NemesisIndex;
  /** Ids whose stored bytes a storage fault destroyed (a nemesis op's `value.destroyed`): not owed to anyone. */
  destroyed: Set<string>;
  /** Times of the power losses (crash, bitflip, truncate nemesis ops) of each process, in order. */
  powerLosses: Map<string, number[]>;
  drain?: { op: number; time: number };
  /** What each member of a broker group with slaves held after the drain (the runner's `replication` ops). */
  replication: { op: number; time: number; group: string; master: string; writeOffsets: Record<string, number | null>; epochs?: Record<string, number | null> }[];
  committedTx: number;
  rolledBackTx: number;
}

/** Acknowledged: an ok non-transactional send, or a transactional send whose tx-end committed. */
export function isAcked(m: MessageRecord): boolean {
  return m.tx ? m.txCommit !== undefined : m.okOp !== undefined;
}

/** The time it was acknowledged at (its ok send or its commit), for messages that were. */
export function ackTime(m: MessageRecord): number | undefined {
  return m.tx ? m.txCommit?.time : m.okTime;
}

/** Ops sorted by index (a copy only when they are not already). */
function inOrder(ops: readonly HistoryOp[]): readonly HistoryOp[] {
  for (let i = 1; i < ops.length; i++) {
    if (ops[i]!.index <= ops[i - 1]!.index) return [...ops].sort((a, b) => a.index - b.index);
  }
  return ops;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * The message ids an operation names (a send's messages, a tx-end's ids), as a key: a producer has many sends in
 * flight at once, so a completion belongs to the invoke of the same process, f and ids (completions without
 * ids fall back to Jepsen's one operation of a kind in flight per process).
 */
function idsKey(v: unknown): string {
  if (!isObject(v)) return '';
  if (Array.isArray(v.messages)) return (v.messages as unknown[]).map((m) => (isObject(m) ? String(m.id) : '')).join(',');
  if (Array.isArray(v.ids)) return (v.ids as unknown[]).map(String).join(',');
  return '';
}

function sendValue(op: HistoryOp): SendValue {
  const v = op.value;
  if (!isObject(v) || typeof v.topic !== 'string' || !Array.isArray(v.messages)) {
    throw new HistoryCheckError('a send carries no topic and messages', op.index);
  }
  for (const m of v.messages as unknown[]) {
    if (!isObject(m) || typeof m.id !== 'string') throw new HistoryCheckError('a sent message has no string id', op.index);
  }
  return v as unknown as SendValue;
}

function receiveValue(op: HistoryOp): ReceiveValue {
  const v = op.value;
  if (!isObject(v) || typeof v.group !== 'string' || !Array.isArray(v.messages) || (v.result !== 'SUCCESS' && v.result !== 'RETRY')) {
    throw new HistoryCheckError('a receive carries no group, messages and result', op.index);
  }
  for (const m of v.messages as unknown[]) {
    if (!isObject(m) || typeof m.id !== 'string') throw new HistoryCheckError('a received message has no string id', op.index);
  }
  return v as unknown as ReceiveValue;
}

function commitValue(op: HistoryOp): CommitValue {
  const v = op.value;
  if (!isObject(v) || typeof v.group !== 'string' || typeof v.broker !== 'string' || typeof v.topic !== 'string' || typeof v.queueId !== 'number' || typeof v.offset !== 'number') {
    throw new HistoryCheckError(`a ${op.f} carries no group, topic, broker, queueId and offset`, op.index);
  }
  return v as unknown as CommitValue;
}

/** The tx-end value of a completion, or of its invoke when the completion repeats nothing. */
function txEndIds(op: HistoryOp, invoke: HistoryOp | undefined): string[] {
  for (const v of [op.value, invoke?.value]) {
    if (isObject(v) && Array.isArray(v.ids)) return (v.ids as unknown[]).filter((id): id is string => typeof id === 'string');
  }
  throw new HistoryCheckError('a tx-end names no ids', op.index);
}

function outcomeOf(op: HistoryOp): TxEndValue['outcome'] {
  const v = op.value;
  return isObject(v) && (v.outcome === 'commit' || v.outcome === 'rollback') ? v.outcome : 'unknown';
}

class ModelBuilder {
  readonly model: HistoryModel = {
    messages: new Map(),
    deliveries: [],
    offsetOps: [],
    epochAcks: [],
    nemesis: new NemesisIndex(),
    destroyed: new Set(),
    powerLosses: new Map(),
    replication: [],
    committedTx: 0,
    rolledBackTx: 0,
  };
  /** Invokes in flight by process and f. */
  private readonly pending = new Map<string, HistoryOp>();

  /** @param groupOf the broker group of a broker process not named as its group: a fault of it is one of the group too */
  constructor(private readonly groupOf: ReadonlyMap<string, string> = new Map()) {}

  add(op: HistoryOp): void {
    if (op.process === 'nemesis') {
      const v = op.value;
      if (isObject(v) && v.skipped === true) return; // a fault not applied (real runs) explains nothing
      const targets = isObject(v) && Array.isArray(v.targets) ? (v.targets as unknown[]).filter((t): t is string => typeof t === 'string') : [];
      const groups = targets.map((t) => this.groupOf.get(t)).filter((g): g is string => g !== undefined);
      this.model.nemesis.add(op.index, op.time, [...targets, ...groups]);
      if (POWER_LOSS.has(op.f)) {
        for (const t of targets) {
          const list = this.model.powerLosses.get(t);
          if (list) list.push(op.time);
          else this.model.powerLosses.set(t, [op.time]);
        }
      }
      if (isObject(v) && Array.isArray(v.destroyed)) for (const id of v.destroyed as unknown[]) if (typeof id === 'string') this.model.destroyed.add(id);
      return;
    }
    if (op.process === 'runner' && op.f === 'drain') {
      this.model.drain ??= { op: op.index, time: op.time };
      return;
    }
    if (op.process === 'runner' && op.f === 'replication') {
      const v = op.value;
      if (isObject(v) && typeof v.group === 'string' && typeof v.master === 'string' && isObject(v.writeOffsets)) {
        const writeOffsets = Object.fromEntries(Object.entries(v.writeOffsets).map(([k, x]) => [k, typeof x === 'number' ? x : null]));
        const epochs = isObject(v.epochs) ? Object.fromEntries(Object.entries(v.epochs).map(([k, x]) => [k, typeof x === 'number' ? x : null])) : undefined;
        this.model.replication.push({ op: op.index, time: op.time, group: v.group, master: v.master, writeOffsets, ...(epochs ? { epochs } : {}) });
      }
      return;
    }
    const slot = `${op.process}\u0000${op.f}\u0000${idsKey(op.value)}`;
    let invoke: HistoryOp | undefined;
    if (op.type === 'invoke') this.pending.set(slot, op);
    else {
      const key = this.pending.has(slot) ? slot : this.anyInFlight(op);
      invoke = key === undefined ? undefined : this.pending.get(key);
      if (key !== undefined) this.pending.delete(key);
    }
    switch (op.f) {
      case 'send':
        return this.send(op, invoke);
      case 'tx-end':
        return this.txEnd(op, invoke);
      case 'receive':
        return this.receive(op);
      case 'commit':
      case 'fetch-offset':
        if (op.type === 'ok') this.model.offsetOps.push({ op: op.index, time: op.time, kind: op.f, value: commitValue(op) });
        return;
      default:
        return;
    }
  }

  /** For a completion that names no messages: the oldest invoke in flight of its process and f. */
  private anyInFlight(op: HistoryOp): string | undefined {
    if (idsKey(op.value) !== '') return undefined;
    const prefix = `${op.process}\u0000${op.f}\u0000`;
    for (const key of this.pending.keys()) if (key.startsWith(prefix)) return key;
    return undefined;
  }

  /** Sends and tx-ends still in flight at the end are ambiguous. */
  finish(): HistoryModel {
    for (const op of this.pending.values()) {
      if (op.f === 'send') this.completeSend(sendValue(op).messages, 'info', op);
    }
    return this.model;
  }

  private send(op: HistoryOp, invoke: HistoryOp | undefined): void {
    if (op.type === 'invoke') {
      const v = sendValue(op);
      for (const sent of v.messages) this.invoked(sent, v, op);
      return;
    }
    const messages = (invoke ? sendValue(invoke) : sendValue(op)).messages;
    if (!invoke) for (const sent of messages) this.invoked(sent, sendValue(op), op);
    this.completeSend(messages, op.type, op);
    if (op.type === 'ok') this.epochAck(op, invoke ?? op, messages);
  }

  private epochAck(op: HistoryOp, invoke: HistoryOp, messages: readonly SentMessage[]): void {
    const v = op.value as { broker?: unknown; address?: unknown; epoch?: unknown };
    if (typeof v.epoch !== 'number' || typeof v.broker !== 'string') return;
    const a: EpochAck = { op: op.index, time: op.time, invokeOp: invoke.index, invokeTime: invoke.time, process: op.process, group: v.broker, epoch: v.epoch, ids: messages.map((m) => m.id) };
    if (typeof v.address === 'string') a.address = v.address;
    this.model.epochAcks.push(a);
  }

  private invoked(sent: SentMessage, v: SendValue, op: HistoryOp): void {
    const known = this.model.messages.get(sent.id);
    if (known) {
      known.invokes++;
      return;
    }
    const m: MessageRecord = {
      id: sent.id,
      topic: v.topic,
      producer: op.process,
      tx: v.tx === true,
      firstInvoke: op.index,
      invokeTime: op.time,
      invokes: 1,
      ambiguousSend: false,
      failedSend: false,
    };
    if (sent.key !== undefined) m.key = sent.key;
    if (sent.seq !== undefined) m.seq = sent.seq;
    if (sent.notBefore !== undefined) m.notBefore = sent.notBefore;
    this.model.messages.set(sent.id, m);
  }

  private completeSend(messages: readonly SentMessage[], type: 'ok' | 'fail' | 'info', op: HistoryOp): void {
    for (const sent of messages) {
      const m = this.model.messages.get(sent.id);
      if (!m) continue;
      if (type === 'ok') {
        if (m.okOp === undefined) {
          m.okOp = op.index;
          m.okTime = op.time;
          const broker = (op.value as { broker?: unknown }).broker;
          if (typeof broker === 'string') m.okBroker = broker;
        }
      } else if (type === 'info') m.ambiguousSend = true;
      else m.failedSend = true;
    }
  }

  private txEnd(op: HistoryOp, invoke: HistoryOp | undefined): void {
    if (op.type === 'invoke') {
      for (const id of txEndIds(op, undefined)) this.txEndStarted(id, op);
      return;
    }
    const ids = txEndIds(op, invoke);
    if (!invoke) for (const id of ids) this.txEndStarted(id, op);
    if (op.type !== 'ok') return;
    const outcome = outcomeOf(op);
    if (outcome === 'commit') this.model.committedTx++;
    if (outcome === 'rollback') this.model.rolledBackTx++;
    if (outcome === 'unknown') return;
    for (const id of ids) {
      const m = this.model.messages.get(id);
      if (!m) continue;
      const at = { op: op.index, time: op.time };
      if (outcome === 'commit') m.txCommit ??= at;
      else m.txRollback ??= at;
    }
  }

  private txEndStarted(id: string, op: HistoryOp): void {
    const m = this.model.messages.get(id);
    if (m) m.txEndFrom ??= { op: op.index, time: op.time };
  }

  private receive(op: HistoryOp): void {
    if (op.type !== 'ok') return;
    const v = receiveValue(op);
    for (const r of v.messages) {
      this.model.deliveries.push({
        op: op.index,
        time: op.time,
        consumer: op.process,
        group: v.group,
        id: r.id,
        result: v.result,
        broker: r.broker,
        queueId: r.queueId,
        offset: r.offset,
      });
    }
  }
}

/**
 * Builds the model of a history in one pass; `groupOf` names the broker group of each broker process not named
 * as its group (nemesis ops that target it are indexed under the group as well).
 */
export function buildModel(ops: readonly HistoryOp[], groupOf?: ReadonlyMap<string, string>): HistoryModel {
  const builder = new ModelBuilder(groupOf);
  for (const op of inOrder(ops)) builder.add(op);
  return builder.finish();
}
