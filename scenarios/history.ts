/**
 * A scenario's history, in Jepsen's shape: one operation per line, `invoke` when a client starts it and `ok`,
 * `fail` or `info` (ambiguous: it may or may not have happened) when it ends; faults are `info` operations of
 * the process `nemesis`. Times are the simulation's global clock (no process skew), in ms since the run began;
 * on a real run (real/real-runner.ts), real ms since its clients started.
 *
 * What each `f` carries in `value`:
 * - `send` (a producer; invoke, then ok | fail | info): `SendValue`. One operation per batch.
 * - `tx-end` (a transactional producer; ok once the outcome is final at the broker, info when unknown):
 *   `TxEndValue`.
 * - `receive` (a consumer; ok only): `ReceiveValue`, one operation per listener call.
 * - `commit` (a consumer's offset commit acknowledged by a broker; ok only): `CommitValue`.
 * - `fetch-offset` (a consumer read its committed offset back from a broker; ok only): `CommitValue`.
 * - nemesis faults (info only): `f` is the fault's name (`crash`, `restart`, `pause`, `resume`, `partition`,
 *   `heal`, `drop`, `bitflip`, `join`, `leave`, ...) and `value` is `NemesisValue`; a real run records the
 *   faults it cannot apply with `skipped: true`.
 * - `drain` (process `runner`, info): the workload ended and every fault healed at `time`; the checker's
 *   liveness deadline counts from here.
 */
export type OpType = 'invoke' | 'ok' | 'fail' | 'info';

export interface HistoryOp {
  index: number;
  /** ms of global simulated time since the run started. */
  time: number;
  process: string;
  type: OpType;
  f: string;
  value: unknown;
}

/** One message of a send: its unique id (also its body's first line), and what the checker needs to know of it. */
export interface SentMessage {
  id: string;
  /** Sharding key of an ordered send; messages of one key and producer are sent in `seq` order. */
  key?: string;
  seq?: number;
  /** Earliest global time it may be delivered (delay level or timer). */
  notBefore?: number;
}

export interface SendValue {
  topic: string;
  messages: SentMessage[];
  /** A transactional half message batch (visible only once its `tx-end` commits). */
  tx?: boolean;
  /** On ok: the broker group and queue that took the batch; on fail and info: the status. */
  broker?: string;
  queueId?: number;
  status?: string;
  /** On an answer with results: the address of the broker that stored the batch (its msgIds' store host). */
  address?: string;
  /** On an answer of a broker under an HA controller: the master epoch it answered in. */
  epoch?: number;
}

export interface TxEndValue {
  ids: string[];
  outcome: 'commit' | 'rollback' | 'unknown';
}

export interface ReceivedMessage {
  id: string;
  broker: string;
  queueId: number;
  offset: number;
  key?: string;
  /** How often the broker had delivered it before (RocketMQ's reconsumeTimes). */
  reconsumeTimes: number;
}

export interface ReceiveValue {
  group: string;
  topic: string;
  messages: ReceivedMessage[];
  /** What the listener answered: RETRY asks for a redelivery, so these deliveries do not count as consumed. */
  result: 'SUCCESS' | 'RETRY';
}

export interface CommitValue {
  group: string;
  topic: string;
  broker: string;
  queueId: number;
  offset: number;
}

export interface NemesisValue {
  /** Process ids the fault touched (none for network-wide ones). */
  targets: string[];
  /** A fault a real run cannot apply (a drop rate, clock skew...): recorded, not applied, explains nothing. */
  skipped?: true;
  [detail: string]: unknown;
}

/** Appends operations with increasing indexes; the runner's one writer of a history. */
export class HistoryLog {
  readonly ops: HistoryOp[] = [];

  /** @param onAdd sees every operation as it is added (the trace records them). */
  constructor(
    private readonly now: () => number,
    private readonly onAdd?: (op: HistoryOp) => void,
  ) {}

  add(process: string, type: OpType, f: string, value: unknown): HistoryOp {
    const op: HistoryOp = { index: this.ops.length, time: this.now(), process, type, f, value };
    this.ops.push(op);
    this.onAdd?.(op);
    return op;
  }
}
