import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';
import type { Frame } from '../../../transports/frame.js';
import type { Clock, TimerHandle } from '../../runtime/clock.js';
import { clientAddress, type CheckTransactionStateHeader } from '../../protocol/commands.js';
import { MessageProperty } from '../../protocol/message.js';
import { encodeMessageExtBatch } from '../../protocol/message-codec.js';
import { oneWay } from '../../protocol/replies.js';
import { RequestCode } from '../../protocol/request-codes.js';
import { Status, StatusError } from '../../protocol/status.js';
import { TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC } from '../../protocol/validation.js';
import type { StorePort, StorePutMessage } from '../store-port.js';
import type { TimerTxSettings } from '../timer-tx-options.js';
import { HALF_QUEUE, OP_QUEUE, fromHalf, halfView, opMessage, parseOp, type TxOutcome } from './half-message.js';

/**
 * The broker's side of transactional messages, as RocketMQ's TransactionalMessageService and its check
 * service. Half messages wait in TRANS_HALF_TOPIC; END_TRANSACTION commits one (the message goes to its real
 * topic, with an op record in TRANS_OP_HALF_TOPIC, in one store batch) or rolls it back (the op record
 * only). Half messages without an outcome are checked: CHECK_TRANSACTION_STATE goes to a live producer of
 * their group, first txCheckTimeoutMs after they were stored, then every txCheckIntervalMs; after txMaxChecks
 * checks `txCheckExhausted` decides. Everything is in the store: at start the pending set is rebuilt from the
 * op topic (outcomes) and the half topic (half messages without one).
 */

const READ_BATCH = 256;
const RETRY_MS = 1000;
/** Most transaction outcomes in one store call. */
const WRITE_BATCH = 256;

export interface TransactionServiceOptions {
  store: StorePort;
  clock: Clock;
  logger: Logger;
  brokerName: string;
  /** The broker's address: where producers send END_TRANSACTION after a check. */
  address: string;
  settings: TimerTxSettings;
  /** Client ids of the live producers of a group (from heartbeats). */
  producersOf(group: string): string[];
  /** Sends a one-way frame. */
  send(to: string, frame: Frame): void;
}

export interface PendingHalf {
  halfOffset: number;
  msgId: string;
  group: string;
  storeTimestamp: number;
  checks: number;
  nextCheckAt: number;
}

export interface EndTransactionRequest {
  halfOffset: number;
  msgId: string;
  producerGroup: string;
  state: 'COMMIT' | 'ROLLBACK' | 'UNKNOWN';
  fromCheck: boolean;
}

export type EndOutcome = 'COMMITTED' | 'ROLLED_BACK' | 'ALREADY_RESOLVED' | 'IGNORED';

export interface TransactionStats {
  pending: number;
  committed: number;
  rolledBack: number;
  checks: number;
  exhausted: number;
}

export class TransactionService {
  private halfRead = 0;
  private readonly pending = new Map<number, PendingHalf>();
  /** Half offsets at or past halfRead whose outcome is written (the scan skips them). */
  private readonly resolvedAhead = new Set<number>();
  private readonly resolving = new Map<number, Promise<EndOutcome>>();
  private sub: Subscription | undefined;
  private scanning = false;
  private rescan = false;
  private timer: TimerHandle | undefined;
  private armedAt = Infinity;
  private stopped = false;
  private readonly stats = { committed: 0, rolledBack: 0, checks: 0, exhausted: 0 };
  private readonly writes: { batch: StorePutMessage[]; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private writing = false;

  constructor(private readonly o: TransactionServiceOptions) {}

  /** Rebuilds the pending set from the op and half topics, then follows new half messages and checks. */
  async start(): Promise<void> {
    await this.readOps();
    this.halfRead = this.o.store.minOffset(TRANS_HALF_TOPIC, HALF_QUEUE);
    await this.scanHalf();
    // outcomes of half messages retention removed will never be matched
    for (const o of this.resolvedAhead) if (o < this.halfRead) this.resolvedAhead.delete(o);
    this.sub = this.o.store.newData$.subscribe((d) => {
      if (d.topic === TRANS_HALF_TOPIC) this.kickScan();
    });
    this.armEarliest();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sub?.unsubscribe();
    this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.resolving.values()]);
  }

  snapshot(): TransactionStats {
    return { pending: this.pending.size, ...this.stats };
  }

  /** The half messages without an outcome (for inspection and tests). */
  pendingHalves(): PendingHalf[] {
    return [...this.pending.values()].sort((a, b) => a.halfOffset - b.halfOffset);
  }

  /** END_TRANSACTION: writes the outcome once; UNKNOWN is ignored (the check will ask again). */
  async end(req: EndTransactionRequest): Promise<EndOutcome> {
    if (req.state === 'UNKNOWN') return 'IGNORED';
    if (req.state !== 'COMMIT' && req.state !== 'ROLLBACK') throw new StatusError(Status.INVALID_ARGUMENT, `transaction state must be COMMIT, ROLLBACK or UNKNOWN, got ${String(req.state)}`);
    return this.resolve(req.halfOffset, req.msgId, req.state, req.producerGroup);
  }

  private isResolved(halfOffset: number): boolean {
    return halfOffset < this.halfRead ? !this.pending.has(halfOffset) : this.resolvedAhead.has(halfOffset);
  }

  private async resolve(halfOffset: number, msgId: string, outcome: TxOutcome, group: string | undefined): Promise<EndOutcome> {
    for (;;) {
      const inflight = this.resolving.get(halfOffset);
      if (!inflight) break;
      await inflight.catch(() => undefined);
    }
    if (this.isResolved(halfOffset)) return 'ALREADY_RESOLVED';
    const p = this.write(halfOffset, msgId, outcome, group);
    this.resolving.set(halfOffset, p);
    try {
      return await p;
    } finally {
      this.resolving.delete(halfOffset);
    }
  }

  private async write(halfOffset: number, msgId: string, outcome: TxOutcome, group: string | undefined): Promise<EndOutcome> {
    if (this.stopped) throw new StatusError(Status.SERVICE_NOT_AVAILABLE, `broker ${this.o.brokerName} is stopping`);
    const m = await this.o.store.lookupById(msgId);
    if (!m || m.topic !== TRANS_HALF_TOPIC || m.queueOffset !== halfOffset)
      throw new StatusError(Status.INVALID_ARGUMENT, `no half message ${msgId} at half offset ${halfOffset} on broker ${this.o.brokerName}`);
    const owner = m.properties?.[MessageProperty.PRODUCER_GROUP];
    if (group !== undefined && owner !== group)
      throw new StatusError(Status.NO_PERMISSION, `half message ${msgId} belongs to producer group "${String(owner)}", not "${group}"`);
    const op = opMessage(halfOffset, outcome, this.o.clock.now(), this.o.address);
    await this.putGrouped(outcome === 'COMMIT' ? [fromHalf(m), op] : [op]);
    this.pending.delete(halfOffset);
    if (halfOffset >= this.halfRead) this.resolvedAhead.add(halfOffset);
    if (outcome === 'COMMIT') this.stats.committed++;
    else this.stats.rolledBack++;
    return outcome === 'COMMIT' ? 'COMMITTED' : 'ROLLED_BACK';
  }

  /**
   * Group commit of outcomes: the first write goes to the store at once; those that arrive while it is in
   * flight go together in the next store call (one putMessages per batch, not per transaction).
   */
  private putGrouped(batch: StorePutMessage[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.writes.push({ batch, resolve, reject });
      if (!this.writing) void this.flushWrites();
    });
  }

  private async flushWrites(): Promise<void> {
    this.writing = true;
    try {
      while (this.writes.length > 0) {
        const items = this.writes.splice(0, WRITE_BATCH);
        try {
          const r = await this.o.store.putMessages(items.flatMap((i) => i.batch));
          const err = r.status === Status.OK ? undefined : new StatusError(r.status, r.message ?? 'the store refused transaction outcomes');
          for (const i of items) (err ? i.reject(err) : i.resolve());
        } catch (err) {
          for (const i of items) i.reject(err);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /** Reads every op record (at start): their half offsets are resolved. */
  private async readOps(): Promise<void> {
    let offset = this.o.store.minOffset(TRANS_OP_HALF_TOPIC, OP_QUEUE);
    for (;;) {
      const r = await this.o.store.getMessages({ topic: TRANS_OP_HALF_TOPIC, queueId: OP_QUEUE, offset, maxCount: READ_BATCH });
      if (offset < r.minOffset) {
        offset = r.minOffset;
        continue;
      }
      for (const m of r.messages) {
        const op = parseOp(m);
        if (op) this.resolvedAhead.add(op.halfOffset);
        else this.o.logger.warn({ msgId: m.msgId }, 'skipping a malformed transaction op record');
      }
      if (r.nextOffset <= offset) return;
      offset = r.nextOffset;
    }
  }

  private kickScan(): void {
    if (this.stopped) return;
    if (this.scanning) {
      this.rescan = true;
      return;
    }
    this.scanning = true;
    this.scanHalf()
      .catch((err: unknown) => {
        this.o.logger.error({ err }, 'reading half messages failed; retrying');
        if (!this.stopped) this.o.clock.setTimeout(() => this.kickScan(), RETRY_MS);
      })
      .finally(() => {
        this.scanning = false;
        if (this.rescan) {
          this.rescan = false;
          this.kickScan();
        }
      });
  }

  /** Reads new half messages into the pending set. */
  private async scanHalf(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const r = await this.o.store.getMessages({ topic: TRANS_HALF_TOPIC, queueId: HALF_QUEUE, offset: this.halfRead, maxCount: READ_BATCH });
      if (this.halfRead < r.minOffset) {
        this.halfRead = r.minOffset;
        continue;
      }
      let earliest = Infinity;
      for (const m of r.messages) {
        if (this.resolvedAhead.delete(m.queueOffset)) continue;
        const group = m.properties?.[MessageProperty.PRODUCER_GROUP] ?? '';
        const nextCheckAt = m.storeTimestamp + this.o.settings.txCheckTimeoutMs;
        this.pending.set(m.queueOffset, { halfOffset: m.queueOffset, msgId: m.msgId, group, storeTimestamp: m.storeTimestamp, checks: 0, nextCheckAt });
        earliest = Math.min(earliest, nextCheckAt);
      }
      if (r.nextOffset <= this.halfRead) return;
      this.halfRead = r.nextOffset;
      if (earliest < Infinity) this.arm(earliest);
    }
  }

  private arm(at: number): void {
    if (this.stopped || (this.timer !== undefined && this.armedAt <= at)) return;
    this.o.clock.clearTimeout(this.timer);
    this.armedAt = at;
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      this.armedAt = Infinity;
      this.checkDue().then(
        () => this.armEarliest(),
        (err: unknown) => {
          this.o.logger.error({ err }, 'transaction check failed; retrying');
          this.arm(this.o.clock.now() + RETRY_MS);
        },
      );
    }, Math.max(0, at - this.o.clock.now()));
  }

  private armEarliest(): void {
    let earliest = Infinity;
    for (const p of this.pending.values()) earliest = Math.min(earliest, p.nextCheckAt);
    if (earliest < Infinity) this.arm(earliest);
  }

  /** Checks every half message whose time has come; decides those out of checks. */
  private async checkDue(): Promise<void> {
    const now = this.o.clock.now();
    const s = this.o.settings;
    const due = [...this.pending.values()].filter((p) => p.nextCheckAt <= now && !this.resolving.has(p.halfOffset));
    for (const p of due) {
      if (this.stopped) return;
      if (p.checks >= s.txMaxChecks) {
        this.stats.exhausted++;
        this.o.logger.warn({ msgId: p.msgId, group: p.group, checks: p.checks, outcome: s.txCheckExhausted }, 'transaction checks exhausted');
        p.nextCheckAt = now + s.txCheckIntervalMs; // should the write fail, try again later
        await this.resolve(p.halfOffset, p.msgId, s.txCheckExhausted === 'commit' ? 'COMMIT' : 'ROLLBACK', undefined).catch((err: unknown) =>
          this.o.logger.error({ err, msgId: p.msgId }, 'could not decide a transaction out of checks'),
        );
        continue;
      }
      p.checks++;
      p.nextCheckAt = now + s.txCheckIntervalMs;
      this.stats.checks++;
      const ids = this.o.producersOf(p.group);
      if (ids.length === 0) {
        this.o.logger.info({ msgId: p.msgId, group: p.group }, 'no live producer of the group to check a transaction with');
        continue;
      }
      const m = await this.o.store.lookupById(p.msgId);
      if (!m) {
        this.o.logger.error({ msgId: p.msgId }, 'half message no longer in the store; dropping it');
        this.pending.delete(p.halfOffset);
        continue;
      }
      const to = ids[(p.checks - 1) % ids.length]!;
      const header: CheckTransactionStateHeader = {
        brokerName: this.o.brokerName,
        brokerAddr: this.o.address,
        producerGroup: p.group,
        msgId: p.msgId,
        halfOffset: p.halfOffset,
        checkTimes: p.checks,
      };
      const txId = m.properties?.[MessageProperty.TRANSACTION_ID] ?? m.properties?.[MessageProperty.UNIQ_KEY];
      if (txId !== undefined) header.transactionId = txId;
      try {
        this.o.send(clientAddress(to), oneWay(RequestCode.CHECK_TRANSACTION_STATE, { ...header }, encodeMessageExtBatch([halfView(m)])));
      } catch (err) {
        this.o.logger.warn({ err, clientId: to }, 'could not send a transaction check');
      }
    }
  }
}
