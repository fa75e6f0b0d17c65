/**
 * A model queue for the checker's property tests: a topic of three queues on one broker, two producers sending
 * keyed batches (ok, failed, ambiguous and stored or not, retried), delayed messages, transactions that commit or
 * roll back, two groups consuming each queue in order (sometimes answering RETRY), commits, offset fetches and
 * harmless nemesis pauses; then the runner's drain and a final consumption of everything left. Every history it
 * writes is correct, so the checker must find nothing in it; `mutations` break one thing on purpose.
 */
import fc from 'fast-check';
import { HistoryLog, type HistoryOp, type ReceiveValue, type SentMessage } from '../../scenarios/history.js';

export const TOPIC = 'T';
export const GROUPS = ['g0', 'g1'];
const QUEUES = 3;
const BROKER = 'b1';

export type Cmd =
  | { kind: 'send'; producer: number; key: number; n: number; outcome: 'ok' | 'fail' | 'info-stored' | 'info-lost' | 'retried' }
  | { kind: 'delayed'; producer: number; delayMs: number }
  | { kind: 'tx'; producer: number; commit: boolean }
  | { kind: 'consume'; group: number; queue: number; max: number; retry: boolean }
  | { kind: 'commit'; group: number; queue: number }
  | { kind: 'fetch'; group: number; queue: number }
  | { kind: 'pause' };

export const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('send' as const), producer: fc.nat(1), key: fc.nat(3), n: fc.integer({ min: 1, max: 3 }), outcome: fc.constantFrom('ok' as const, 'ok' as const, 'ok' as const, 'fail' as const, 'info-stored' as const, 'info-lost' as const, 'retried' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delayed' as const), producer: fc.nat(1), delayMs: fc.integer({ min: 1, max: 50 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tx' as const), producer: fc.nat(1), commit: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('consume' as const), group: fc.nat(1), queue: fc.nat(QUEUES - 1), max: fc.integer({ min: 1, max: 4 }), retry: fc.constant(false) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('consume' as const), group: fc.nat(1), queue: fc.nat(QUEUES - 1), max: fc.integer({ min: 1, max: 4 }), retry: fc.constant(true) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('commit' as const), group: fc.nat(1), queue: fc.nat(QUEUES - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('fetch' as const), group: fc.nat(1), queue: fc.nat(QUEUES - 1) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'pause' as const }) },
);

export interface ModelRun {
  ops: HistoryOp[];
  /** Ids acknowledged. */
  acked: Set<string>;
  /** Acknowledged ids sent once with an ok send (or a committed transaction): each delivered once per group. */
  once: Set<string>;
}

/** Writes the history of a correct run of `cmds`. */
export function simulate(cmds: readonly Cmd[]): ModelRun {
  let t = 0;
  const log = new HistoryLog(() => t);
  const queues: string[][] = Array.from({ length: QUEUES }, () => []);
  const scheduled: { id: string; queue: number; at: number }[] = [];
  const consumed = GROUPS.map(() => new Array<number>(QUEUES).fill(0));
  const committed = GROUPS.map(() => new Array<number | undefined>(QUEUES).fill(undefined));
  const seqs = new Map<string, number>();
  const acked = new Set<string>();
  const once = new Set<string>();
  let nextId = 0;

  const release = (): void => {
    for (let i = 0; i < scheduled.length; ) {
      const s = scheduled[i]!;
      if (s.at <= t) {
        queues[s.queue]!.push(s.id);
        scheduled.splice(i, 1);
      } else i++;
    }
  };
  const send = (producer: number, messages: SentMessage[], extra: { tx?: boolean } = {}) =>
    log.add(`p${producer}`, 'invoke', 'send', { topic: TOPIC, messages, ...extra });
  const consume = (g: number, q: number, max: number, result: ReceiveValue['result']): void => {
    const start = consumed[g]![q]!;
    const ids = queues[q]!.slice(start, start + max);
    if (ids.length === 0) return;
    const messages = ids.map((id, i) => ({ id, broker: BROKER, queueId: q, offset: start + i, reconsumeTimes: 0 }));
    log.add(`c${g}`, 'ok', 'receive', { group: GROUPS[g]!, topic: TOPIC, messages, result });
    if (result === 'SUCCESS') consumed[g]![q] = start + ids.length;
  };
  const commit = (g: number, q: number): void => {
    committed[g]![q] = consumed[g]![q]!;
    log.add(`c${g}`, 'ok', 'commit', { group: GROUPS[g]!, topic: TOPIC, broker: BROKER, queueId: q, offset: consumed[g]![q]! });
  };

  for (const cmd of cmds) {
    t += 1 + (cmd.kind === 'pause' ? 3 : 0);
    release();
    switch (cmd.kind) {
      case 'send': {
        const sk = `${cmd.producer}/${cmd.key}`;
        const messages: SentMessage[] = [];
        for (let i = 0; i < cmd.n; i++) {
          const seq = seqs.get(sk) ?? 0;
          seqs.set(sk, seq + 1);
          messages.push({ id: `m${nextId++}`, key: `k${cmd.key}`, seq });
        }
        const q = cmd.key % QUEUES;
        const store = () => queues[q]!.push(...messages.map((m) => m.id));
        send(cmd.producer, messages);
        if (cmd.outcome === 'ok' || cmd.outcome === 'info-stored' || cmd.outcome === 'retried') store();
        if (cmd.outcome === 'ok') {
          log.add(`p${cmd.producer}`, 'ok', 'send', { topic: TOPIC, messages, broker: BROKER, queueId: q });
          for (const m of messages) acked.add(m.id), once.add(m.id);
        } else if (cmd.outcome === 'fail') log.add(`p${cmd.producer}`, 'fail', 'send', { topic: TOPIC, messages, status: 'SYSTEM_BUSY' });
        else log.add(`p${cmd.producer}`, 'info', 'send', { topic: TOPIC, messages, status: 'TIMEOUT' });
        if (cmd.outcome === 'retried') {
          t += 1;
          send(cmd.producer, messages);
          store();
          log.add(`p${cmd.producer}`, 'ok', 'send', { topic: TOPIC, messages, broker: BROKER, queueId: q });
          for (const m of messages) acked.add(m.id);
        }
        break;
      }
      case 'delayed': {
        const m: SentMessage = { id: `m${nextId++}`, notBefore: t + cmd.delayMs };
        send(cmd.producer, [m]);
        scheduled.push({ id: m.id, queue: nextId % QUEUES, at: m.notBefore! });
        log.add(`p${cmd.producer}`, 'ok', 'send', { topic: TOPIC, messages: [m] });
        acked.add(m.id);
        once.add(m.id);
        break;
      }
      case 'tx': {
        const m: SentMessage = { id: `m${nextId++}` };
        const p = `p${cmd.producer}`;
        send(cmd.producer, [m], { tx: true });
        log.add(p, 'ok', 'send', { topic: TOPIC, messages: [m], tx: true });
        t += 1;
        const outcome = cmd.commit ? 'commit' : 'rollback';
        log.add(p, 'invoke', 'tx-end', { ids: [m.id], outcome });
        if (cmd.commit) {
          queues[nextId % QUEUES]!.push(m.id);
          acked.add(m.id);
          once.add(m.id);
        }
        log.add(p, 'ok', 'tx-end', { ids: [m.id], outcome });
        break;
      }
      case 'consume':
        consume(cmd.group, cmd.queue, cmd.max, cmd.retry ? 'RETRY' : 'SUCCESS');
        break;
      case 'commit':
        commit(cmd.group, cmd.queue);
        break;
      case 'fetch': {
        const offset = committed[cmd.group]![cmd.queue];
        if (offset !== undefined) log.add(`c${cmd.group}`, 'ok', 'fetch-offset', { group: GROUPS[cmd.group]!, topic: TOPIC, broker: BROKER, queueId: cmd.queue, offset });
        break;
      }
      case 'pause':
        log.add('nemesis', 'info', 'pause', { targets: ['c0'] });
        break;
    }
  }
  t += 1;
  log.add('runner', 'info', 'drain', {});
  t = Math.max(t, ...scheduled.map((s) => s.at));
  release();
  for (let g = 0; g < GROUPS.length; g++) {
    for (let q = 0; q < QUEUES; q++) {
      while (consumed[g]![q]! < queues[q]!.length) {
        t += 1;
        consume(g, q, 4, 'SUCCESS');
      }
      commit(g, q);
    }
  }
  return { ops: log.ops, acked, once };
}

/** Ops renumbered by position after a mutation. */
export function reindex(ops: HistoryOp[]): HistoryOp[] {
  return ops.map((op, index) => ({ ...op, index }));
}

export interface DeliveryRef {
  op: number;
  pos: number;
  group: string;
  id: string;
}

/** SUCCESS deliveries in history order. */
export function successes(ops: readonly HistoryOp[]): DeliveryRef[] {
  const out: DeliveryRef[] = [];
  for (const op of ops) {
    if (op.f !== 'receive') continue;
    const v = op.value as ReceiveValue;
    if (v.result !== 'SUCCESS') continue;
    v.messages.forEach((m, pos) => out.push({ op: op.index, pos, group: v.group, id: m.id }));
  }
  return out;
}

/** Copies a receive op's value so a mutation does not touch the original history. */
export function cloneOps(ops: readonly HistoryOp[]): HistoryOp[] {
  return ops.map((op) => (op.f === 'receive' ? { ...op, value: { ...(op.value as ReceiveValue), messages: [...(op.value as ReceiveValue).messages] } } : op));
}
