import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';
import type { Frame } from '../../../transports/frame.js';
import type { Clock, TimerHandle } from '../../../core/clock.js';
import { clientAddress, type CheckTransactionStateHeader } from '../../protocol/commands.js';
import { MessageProperty, type MessageExt } from '../../../core/message.js';
import { encodeMessageExtBatch } from '../../../core/message-codec.js';
import { oneWay } from '../../protocol/replies.js';
import { RequestCode } from '../../protocol/request-codes.js';
import { Status, StatusError } from '../../../core/status.js';
import { TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC } from '../../protocol/validation.js';
import type { StorePort, StorePutMessage } from '../store-port.js';
import type { TimerTxSettings } from '../timer-tx-options.js';
import { HALF_QUEUE, OP_QUEUE, fromHalf, halfView, opMessage, parseOp, type TxOutcome } from './half-message.js';
import { storedWithWarning } from '../put-message.js';
import { decodeMessageId } from '../../../store/message-id.js';

/** Whether two store-side message ids are one (hex digits in either case). */
function sameId(a: string, b: string): boolean {
  return a === b || a.toUpperCase() === b.toUpperCase();
}

/** The commit log offset a store-side message id names (undefined for a malformed id). */
function commitLogOffsetOf(msgId: string): number | undefined {
  try {
    return decodeMessageId(msgId).commitLogOffset;
  } catch {
    return undefined;
  }
}

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
/**
 * How long after new half messages the scan reads them (at most a quarter of txCheckTimeoutMs): most are
 * settled by then, and the scan steps over settled ones without reading them.
 */
const SCAN_DELAY_MS = 200;
/** Most bytes of half messages kept in memory for their commit (past that, a commit reads its half message). */
const HALF_CACHE_BYTES = 8 * 1024 * 1024;
/** What a cached half message costs besides its body (object, properties, ids), roughly. */
const HALF_CACHE_OVERHEAD = 256;

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

/** A half message just stored, as the send path handed it to the store (`stored`). */
export interface StoredHalf {
  put: StorePutMessage;
  queueOffset: number;
  msgId: string;
}

interface FreshHalf {
  msgId: string;
  group: string | undefined;
  /** The committed message (fromHalf of the half message handed to the store; its body copied). */
  commit: StorePutMessage;
}

/** A half message about to be ended: its producer group and its committed form. */
interface HalfToEnd {
  group: string | undefined;
  commit: () => StorePutMessage;
}

/** One outcome waiting for its store write. */
interface QueuedOutcome {
  halfOffset: number;
  msgId: string;
  outcome: TxOutcome;
  group: string | undefined;
  resolve: (o: EndOutcome) => void;
  reject: (err: unknown) => void;
}

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
  /** Half offsets at or past halfRead whose outcome is written (the scan steps over them without reading). */
  private readonly resolvedAhead = new Set<number>();
  private readonly resolving = new Map<number, Promise<EndOutcome>>();
  /** Pending half messages the scan read, by half offset, so that their commit needs no read (bounded by bytes). */
  private readonly halfCache = new Map<number, MessageExt>();
  /** Half messages as the send path stored them, by half offset: a commit soon after needs no read either. */
  private readonly fresh = new Map<number, FreshHalf>();
  /** Bytes of both. */
  private halfCacheBytes = 0;
  private sub: Subscription | undefined;
  private scanning = false;
  private rescan = false;
  private scanTimer: TimerHandle | undefined;
  private timer: TimerHandle | undefined;
  private armedAt = Infinity;
  private stopped = false;
  private readonly stats = { committed: 0, rolledBack: 0, checks: 0, exhausted: 0 };
  private queue: QueuedOutcome[] = [];
  private writing = false;
  private readonly scanDelayMs: number;

  constructor(private readonly o: TransactionServiceOptions) {
    this.scanDelayMs = Math.max(0, Math.min(SCAN_DELAY_MS, Math.floor(o.settings.txCheckTimeoutMs / 4)));
  }

  /** Rebuilds the pending set from the op and half topics, then follows new half messages and checks. */
  async start(): Promise<void> {
    await this.readOps();
    this.halfRead = this.o.store.minOffset(TRANS_HALF_TOPIC, HALF_QUEUE);
    // outcomes of half messages retention removed will never be matched
    for (const o of this.resolvedAhead) if (o < this.halfRead) this.resolvedAhead.delete(o);
    await this.scanHalf();
    this.sub = this.o.store.newData$.subscribe((d) => {
      if (d.topic === TRANS_HALF_TOPIC) this.scheduleScan();
    });
    this.armEarliest();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sub?.unsubscribe();
    this.o.clock.clearTimeout(this.timer);
    this.o.clock.clearTimeout(this.scanTimer);
    this.timer = undefined;
    this.scanTimer = undefined;
    await Promise.allSettled([...this.resolving.values()]);
  }

  snapshot(): TransactionStats {
    // half messages stored but not read yet by the scan, less those already settled
    const unread = Math.max(0, this.o.store.maxOffset(TRANS_HALF_TOPIC, HALF_QUEUE) - this.halfRead - this.resolvedAhead.size);
    return { pending: this.pending.size + unread, ...this.stats };
  }

  /** The half messages without an outcome that the scan has read (for inspection and tests). */
  pendingHalves(): PendingHalf[] {
    return [...this.pending.values()].sort((a, b) => a.halfOffset - b.halfOffset);
  }

  /**
   * The send path stored these half messages: each is kept (within the cache's bytes) until its outcome is
   * written, so that a commit writes it without reading it back.
   */
  stored(halves: readonly StoredHalf[]): void {
    for (const h of halves) {
      const bytes = h.put.body.length + HALF_CACHE_OVERHEAD;
      if (this.halfCacheBytes + bytes > HALF_CACHE_BYTES) return;
      if (h.put.topic !== TRANS_HALF_TOPIC || h.put.properties?.[MessageProperty.UNIQ_KEY] === undefined) continue; // (read back when committed)
      const commit = fromHalf(h.put);
      commit.body = commit.body.slice(); // not a view that keeps its whole request alive
      this.fresh.set(h.queueOffset, { msgId: h.msgId, group: h.put.properties[MessageProperty.PRODUCER_GROUP], commit });
      this.halfCacheBytes += bytes;
    }
  }

  /** END_TRANSACTION: writes the outcome once; UNKNOWN is ignored (the check will ask again). */
  end(req: EndTransactionRequest): Promise<EndOutcome> {
    if (req.state === 'UNKNOWN') return Promise.resolve('IGNORED');
    if (req.state !== 'COMMIT' && req.state !== 'ROLLBACK')
      return Promise.reject(new StatusError(Status.INVALID_ARGUMENT, `transaction state must be COMMIT, ROLLBACK or UNKNOWN, got ${String(req.state)}`));
    return this.resolve(req.halfOffset, req.msgId, req.state, req.producerGroup);
  }

  private isResolved(halfOffset: number): boolean {
    return halfOffset < this.halfRead ? !this.pending.has(halfOffset) : this.resolvedAhead.has(halfOffset);
  }

  /** Queues the outcome for the next group write, once per half message (a second one waits for the first). */
  private resolve(halfOffset: number, msgId: string, outcome: TxOutcome, group: string | undefined): Promise<EndOutcome> {
    const inflight = this.resolving.get(halfOffset);
    if (inflight !== undefined) {
      const again = (): Promise<EndOutcome> => this.resolve(halfOffset, msgId, outcome, group);
      return inflight.then(again, again);
    }
    if (this.isResolved(halfOffset)) return Promise.resolve('ALREADY_RESOLVED');
    if (this.stopped) return Promise.reject(new StatusError(Status.SERVICE_NOT_AVAILABLE, `broker ${this.o.brokerName} is stopping`));
    const p = new Promise<EndOutcome>((resolve, reject) => this.queue.push({ halfOffset, msgId, outcome, group, resolve, reject }));
    this.resolving.set(halfOffset, p);
    if (!this.writing) {
      this.writing = true;
      // outcomes arriving in the same turn (one inbox drain) go to the store together
      queueMicrotask(() => void this.flushWrites());
    }
    return p;
  }

  /**
   * Group commit of outcomes: outcomes queued in one turn, and those arriving while a write is in flight, go
   * to the store in one call: every committed message on its real topic and one op record per outcome kind.
   */
  private async flushWrites(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const items = this.queue.length <= WRITE_BATCH ? this.queue : this.queue.slice(0, WRITE_BATCH);
        this.queue = this.queue.length <= WRITE_BATCH ? [] : this.queue.slice(WRITE_BATCH);
        await this.writeGroup(items);
      }
    } finally {
      this.writing = false;
    }
  }

  private async writeGroup(items: QueuedOutcome[]): Promise<void> {
    const batch: StorePutMessage[] = [];
    const ok: QueuedOutcome[] = [];
    const commits: number[] = [];
    const rollbacks: number[] = [];
    for (const it of items) {
      try {
        if (this.stopped) throw new StatusError(Status.SERVICE_NOT_AVAILABLE, `broker ${this.o.brokerName} is stopping`);
        let half = this.halfToEnd(it.halfOffset, it.msgId);
        if (half instanceof Promise) half = await half; // (a kept half message is ended without a wait)
        if (half === undefined) throw new StatusError(Status.INVALID_ARGUMENT, `no half message ${it.msgId} at half offset ${it.halfOffset} on broker ${this.o.brokerName}`);
        if (it.group !== undefined && half.group !== it.group)
          throw new StatusError(Status.NO_PERMISSION, `half message ${it.msgId} belongs to producer group "${String(half.group)}", not "${it.group}"`);
        if (it.outcome === 'COMMIT') {
          batch.push(half.commit());
          commits.push(it.halfOffset);
        } else rollbacks.push(it.halfOffset);
        ok.push(it);
      } catch (err) {
        this.resolving.delete(it.halfOffset);
        it.reject(err);
      }
    }
    if (ok.length === 0) return;
    const now = this.o.clock.now();
    if (commits.length > 0) batch.push(opMessage(commits, 'COMMIT', now, this.o.address));
    if (rollbacks.length > 0) batch.push(opMessage(rollbacks, 'ROLLBACK', now, this.o.address));
    let failure: unknown;
    try {
      const r = await this.o.store.putMessages(batch);
      // FLUSH_DISK_TIMEOUT: the outcomes are stored, their flush late; a retry would commit the messages again
      if (r.status !== Status.OK && !storedWithWarning(r.status)) failure = new StatusError(r.status, r.message ?? 'the store refused transaction outcomes');
    } catch (err) {
      failure = err;
    }
    for (const it of ok) {
      this.resolving.delete(it.halfOffset);
      if (failure !== undefined) {
        it.reject(failure);
        continue;
      }
      this.settled(it.halfOffset);
      if (it.outcome === 'COMMIT') {
        this.stats.committed++;
        it.resolve('COMMITTED');
      } else {
        this.stats.rolledBack++;
        it.resolve('ROLLED_BACK');
      }
    }
  }

  /** The half message at `halfOffset` named `msgId`, to end: its group and its committed form (undefined: none). */
  private halfToEnd(halfOffset: number, msgId: string): HalfToEnd | undefined | Promise<HalfToEnd | undefined> {
    const f = this.fresh.get(halfOffset);
    if (f !== undefined && sameId(f.msgId, msgId)) return { group: f.group, commit: () => f.commit };
    return this.storedHalfToEnd(halfOffset, msgId);
  }

  private async storedHalfToEnd(halfOffset: number, msgId: string): Promise<HalfToEnd | undefined> {
    const m = await this.halfMessage(halfOffset, msgId);
    if (!m || m.topic !== TRANS_HALF_TOPIC || m.queueOffset !== halfOffset) return undefined;
    return { group: m.properties?.[MessageProperty.PRODUCER_GROUP], commit: () => fromHalf(m) };
  }

  /** The stored half message at `halfOffset` named `msgId`: from the cache, else read by id. */
  private async halfMessage(halfOffset: number, msgId: string): Promise<MessageExt | undefined> {
    const cached = this.halfCache.get(halfOffset);
    if (cached !== undefined && sameId(cached.msgId, msgId)) return cached;
    const m = await this.o.store.lookupById(msgId);
    if (m !== undefined) return m;
    // with async flush a half message is acknowledged before it is flushed, and readable only after: its
    // END_TRANSACTION can come first. Only a record already written is waited for: an id that names no offset,
    // or one past the log's end (forged or stale), names nothing, and must not hold its request until the log
    // grows that far.
    const at = commitLogOffsetOf(msgId);
    if (at === undefined || at >= this.o.store.status().positions.writeOffset) return undefined;
    await this.o.store.whenRecordsFlushed([at]);
    return this.o.store.lookupById(msgId);
  }

  /** The half message at `halfOffset` has its outcome written. */
  private settled(halfOffset: number): void {
    this.pending.delete(halfOffset);
    this.uncache(halfOffset);
    if (halfOffset >= this.halfRead) this.resolvedAhead.add(halfOffset);
  }

  private cache(m: MessageExt): void {
    const bytes = m.body.length + HALF_CACHE_OVERHEAD;
    if (this.halfCacheBytes + bytes > HALF_CACHE_BYTES) return;
    this.halfCache.set(m.queueOffset, m);
    this.halfCacheBytes += bytes;
  }

  private uncache(halfOffset: number): void {
    const f = this.fresh.get(halfOffset);
    if (f !== undefined) {
      this.fresh.delete(halfOffset);
      this.halfCacheBytes -= f.commit.body.length + HALF_CACHE_OVERHEAD;
    }
    const m = this.halfCache.get(halfOffset);
    if (m === undefined) return;
    this.halfCache.delete(halfOffset);
    this.halfCacheBytes -= m.body.length + HALF_CACHE_OVERHEAD;
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
        if (op) for (const h of op.halfOffsets) this.resolvedAhead.add(h);
        else this.o.logger.warn({ msgId: m.msgId }, 'skipping a malformed transaction op record');
      }
      if (r.nextOffset <= offset) return;
      offset = r.nextOffset;
    }
  }

  /** New half messages are stored: read them a little later (most will be settled by then). */
  private scheduleScan(): void {
    if (this.stopped || this.scanTimer !== undefined) return;
    if (this.scanning) {
      this.rescan = true;
      return;
    }
    this.scanTimer = this.o.clock.setTimeout(() => {
      this.scanTimer = undefined;
      this.kickScan();
    }, this.scanDelayMs);
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
          this.scheduleScan();
        }
      });
  }

  /** Reads new half messages into the pending set, stepping over those already settled. */
  private async scanHalf(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      while (this.resolvedAhead.delete(this.halfRead)) this.halfRead++;
      const max = this.o.store.maxOffset(TRANS_HALF_TOPIC, HALF_QUEUE);
      if (this.halfRead >= max) return;
      // read only the run of unsettled offsets
      let n = 1;
      while (n < READ_BATCH && this.halfRead + n < max && !this.resolvedAhead.has(this.halfRead + n)) n++;
      const r = await this.o.store.getMessages({ topic: TRANS_HALF_TOPIC, queueId: HALF_QUEUE, offset: this.halfRead, maxCount: n });
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
        this.cache(m);
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
      const m = await this.halfMessage(p.halfOffset, p.msgId);
      if (!m) {
        this.o.logger.error({ msgId: p.msgId }, 'half message no longer in the store; dropping it');
        this.pending.delete(p.halfOffset);
        this.uncache(p.halfOffset);
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
