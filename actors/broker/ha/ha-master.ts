import type { Subscription } from 'rxjs';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../../core/clock.js';
import { Status, StatusError } from '../../../core/status.js';
import type { Frame } from '../../../transports/frame.js';
import type { HaEpochsReply, HaPullReplyHeader, HaSlaveStatus, HaStatus } from '../../protocol/commands.js';
import { headerInt, headerString, okReply, request } from '../../protocol/replies.js';
import { RequestCode } from '../../protocol/request-codes.js';
import type { ReplicaRead, ReplicationPort } from '../store-port.js';
import { epochAt, nextEpochStart, type EpochEntry } from '../../../store/epoch-file.js';
import { MAX_PULLS_IN_FLIGHT, type HaSettings } from './ha-options.js';
import { RecordCounter } from './record-counter.js';
import { lend } from '../../../transports/body-loans.js';
import { acksNeeded, batchSatisfied, inSyncSet, isInSync, reported, type ReplicaState } from './replica-set.js';

/**
 * A master's side of replication: serves its slaves' HA_PULL requests (records from the slave's offset, or from
 * where the slave's stream of requests has got to; held while nothing is new), keeps what each slave
 * acknowledged and the in-sync set (replica-set.ts), and makes a sync master's writes wait for their replicas.
 * Plain code on the injected clock; the broker runs it while it is a master.
 */

export interface HaMasterDeps {
  brokerName: string;
  brokerId: number;
  address: string;
  repl: ReplicationPort;
  clock: Clock;
  logger: Logger;
  settings: HaSettings;
  /** The largest frame the transport carries now. */
  maxPayload: () => number;
  /** The version of the master's topic table: every replication reply carries it, so slaves copy a change at once. */
  topicsVersion?: () => string;
  /** Requests to other brokers (a fixed master takes back a tail its slave holds: see takeBackTail). */
  request?: (to: string, frame: Frame, timeoutMs: number) => Promise<Frame>;
  /**
   * Under a controller: the in-sync set the controller approved (acknowledgements and the confirm offset follow
   * it, not the master's own view), the epoch entries (a transfer stops at an epoch's end), and where the master
   * proposes a new set when its own view differs.
   */
  controlled?: {
    approved: () => readonly number[];
    epochs: () => readonly EpochEntry[];
    propose: (inSync: number[]) => void;
  };
}

/**
 * A replication reply (HA_PULL, HA_READ_TAIL): what a read of the log at `offset` found, with the positions it
 * was read at; `extra` adds what only a master under a controller knows (confirm offset, epoch, topic version).
 */
export function replicaReply(frame: Frame, offset: number, r: ReplicaRead, pos: { writeOffset: number; minOffset: number }, extra: Partial<HaPullReplyHeader> = {}): Frame {
  const header: HaPullReplyHeader = {
    kind: r.kind,
    offset: r.kind === 'data' ? r.offset : offset,
    masterWrite: pos.writeOffset,
    minOffset: pos.minOffset,
    confirmOffset: -1,
    epoch: 0,
    epochStart: 0,
    topics: '',
    stream: 0,
    ...extra,
  };
  return r.kind === 'data' ? okReply(frame, { ...header }, r.data) : okReply(frame, { ...header });
}

/** Room a replication reply keeps for its frame's header. */
const REPLY_OVERHEAD = 4096;
/**
 * Buffers a master keeps to read chunks into, given back by the direct link that wrote them: a new buffer per
 * chunk (tens of MB a second under full load) made V8 run a full collection or two a second.
 */
const SPARE_CHUNKS = 8;

interface Hold {
  slave: number;
  /** Where its records would start now. */
  from: () => number;
  done: () => void;
  timer: TimerHandle;
}

/** A slave's stream of requests (HaPullHeader.stream): the next of them is answered from `offset`. */
interface Cursor {
  stream: number;
  offset: number;
}

interface Wait {
  end: number;
  setAtWrite: number[];
  resolve: (r: { status: number; message?: string }) => void;
  timer: TimerHandle;
}

/** What a write must hear before it is acknowledged: OK, or why not (stored either way: FLUSH_SLAVE_TIMEOUT). */
export interface ReplicaAck {
  status: number;
  message?: string;
}

export class HaMaster {
  private readonly replicas = new Map<number, ReplicaState>();
  private readonly cursors = new Map<number, Cursor>();
  /** Chunk buffers given back (see SPARE_CHUNKS). */
  private readonly spareChunks: Uint8Array[] = [];
  private holds: Hold[] = [];
  private waits: Wait[] = [];
  private readonly sub: Subscription;
  private stopped = false;
  /** Fixed roles: the write offset up to which the log is what recovery left plus what was taken back. */
  private base: number;
  /** Fixed roles: a tail being taken back from a slave (writes wait for it). */
  private takingBack: Promise<void> | undefined;
  /** Slaves' lag in messages for status(). */
  private readonly counter: RecordCounter;

  constructor(private readonly d: HaMasterDeps) {
    this.base = d.repl.positions().writeOffset;
    this.counter = new RecordCounter((from, maxBytes, into) => d.repl.readReplica(from, maxBytes, into));
    this.sub = d.repl.positions$.subscribe((p) => {
      if (this.holds.length > 0) this.wake(p.writeOffset);
      if (p.flushedOffset !== this.lastFlushed) {
        this.lastFlushed = p.flushedOffset;
        this.confirm();
      }
    });
    this.confirm();
  }

  get sync(): boolean {
    return this.d.settings.mode === 'sync';
  }

  /** The in-sync set acknowledgements count against: the controller's, else the master's own view. */
  inSync(): number[] {
    return this.d.controlled ? [...this.d.controlled.approved()] : this.localInSync();
  }

  /** The master's own view of the in-sync set (replica-set.ts rules), this master included. */
  localInSync(): number[] {
    return inSyncSet(this.d.brokerId, this.replicas.values(), this.d.clock.now(), this.d.settings);
  }

  /**
   * The confirm offset under a controller: the lowest of what the in-sync set's members hold (the master's own
   * flushed offset counted). Consumers read only below it, so a failover, which elects from that set, never
   * takes back a message someone read. Infinity without a controller.
   */
  confirmOffset(): number {
    if (!this.d.controlled) return Infinity;
    let c = this.d.repl.positions().flushedOffset;
    for (const id of this.d.controlled.approved()) {
      if (id === this.d.brokerId) continue;
      c = Math.min(c, this.replicas.get(id)?.ackOffset ?? 0);
    }
    return c;
  }

  private lastConfirm = -1;
  private lastFlushed = -1;
  /** Moves the store's dispatch limit to the confirm offset (under a controller). */
  private confirm(): void {
    if (!this.d.controlled) return;
    const c = this.confirmOffset();
    if (c === this.lastConfirm) return;
    this.lastConfirm = c;
    this.d.repl.limitDispatch(c);
  }

  /** The controller approved another set: acknowledgements waiting and the confirm offset follow it. */
  approvedChanged(): void {
    this.confirm();
    if (this.waits.length > 0) this.settleWaits();
  }

  /** Proposes the master's own view to the controller when it differs from the approved set. */
  reviewInSync(): void {
    this.proposeIfChanged();
  }

  /** HA_GET_EPOCHS: what a slave compares its epochs with before it follows (epoch-file.ts consistentPoint). */
  epochsReply(): HaEpochsReply {
    const c = this.confirmOffset();
    return { entries: [...(this.d.controlled?.epochs() ?? [])], writeOffset: this.d.repl.positions().writeOffset, confirmOffset: c === Infinity ? -1 : c };
  }

  private proposeIfChanged(): void {
    const c = this.d.controlled;
    if (!c) return;
    const mine = this.localInSync();
    const approved = c.approved();
    if (mine.length !== approved.length || mine.some((x, i) => x !== approved[i])) c.propose(mine);
  }

  /**
   * Before a write on a sync master: IN_SYNC_REPLICAS_NOT_ENOUGH when the in-sync set is smaller than
   * minInSyncReplicas (nothing is stored then), else undefined.
   */
  refuseWrite(): ReplicaAck | undefined {
    if (this.takingBack) return { status: Status.SERVICE_NOT_AVAILABLE, message: `broker ${this.d.address} is taking back the commit log tail its slave holds: it takes writes again in a moment` };
    if (!this.sync) return undefined;
    const set = this.inSync();
    if (set.length >= this.d.settings.minInSyncReplicas) return undefined;
    return {
      status: Status.IN_SYNC_REPLICAS_NOT_ENOUGH,
      message: `broker ${this.d.brokerName} has ${set.length} in-sync replica(s) (${set.join(', ')}), fewer than minInSyncReplicas ${this.d.settings.minInSyncReplicas}: not stored`,
    };
  }

  /**
   * After a sync master wrote a batch ending at `end`: resolves OK once enough in-sync replicas hold it (see
   * replica-set.ts), or FLUSH_SLAVE_TIMEOUT after syncTimeoutMs (the batch is stored on the master).
   */
  waitForReplicas(end: number): Promise<ReplicaAck> {
    const setAtWrite = this.inSync();
    if (batchSatisfied(end, setAtWrite, setAtWrite, this.d.brokerId, this.replicas, this.d.settings)) return Promise.resolve({ status: Status.OK });
    if (this.stopped) return Promise.resolve(this.notReplicated(setAtWrite, 'the broker is stopping'));
    return new Promise((resolve) => {
      const w: Wait = {
        end,
        setAtWrite,
        resolve,
        timer: this.d.clock.setTimeout(() => {
          this.waits = this.waits.filter((x) => x !== w);
          resolve(this.notReplicated(setAtWrite, `not acknowledged by enough in-sync replicas within ${this.d.settings.syncTimeoutMs} ms`));
        }, this.d.settings.syncTimeoutMs),
      };
      this.waits.push(w);
    });
  }

  private notReplicated(set: readonly number[], why: string): ReplicaAck {
    return { status: Status.FLUSH_SLAVE_TIMEOUT, message: `stored on the master, ${why} (in-sync set ${set.join(', ')}, ${acksNeeded(set, this.d.settings)} needed)` };
  }

  /**
   * HA_PULL: takes the slave's acknowledgement, then answers with records from its offset or its stream's cursor
   * (held while none; held requests are answered in the order they came).
   */
  handlePull(frame: Frame, reply: ((f: Frame) => void) | undefined): Frame | undefined {
    const name = headerString(frame, 'brokerName');
    if (name !== this.d.brokerName) throw new StatusError(Status.INVALID_ARGUMENT, `broker ${this.d.address} is the master of ${this.d.brokerName}, not of ${name}`);
    const id = headerInt(frame, 'brokerId');
    if (id === this.d.brokerId || id < 0) throw new StatusError(Status.INVALID_ARGUMENT, `a slave's broker id must differ from its master's (${this.d.brokerId}), got ${id}`);
    const offset = headerInt(frame, 'offset');
    const ackOffset = headerInt(frame, 'ackOffset');
    if (offset < 0 || ackOffset < 0 || ackOffset > offset) throw new StatusError(Status.BAD_FRAME, `offset ${offset} and ackOffset ${ackOffset}: need 0 <= ackOffset <= offset`);
    const maxBytes = Math.max(1, Math.min(headerInt(frame, 'maxBytes'), this.chunkCap()));
    // a held request's slave reports again only when it is answered: well within the in-sync time
    const waitMs = Math.max(0, Math.min(headerInt(frame, 'waitMs', 0), 30_000, Math.floor(this.d.settings.maxTimeSlaveNotCatchupMs / 3)));
    const address = headerString(frame, 'address');
    const stream = headerInt(frame, 'stream', 0);
    this.report(id, address, Math.min(ackOffset, this.d.repl.positions().writeOffset), offset);
    if (this.shouldTakeBack(offset)) {
      this.takingBack = this.takeBackTail(address, offset).finally(() => {
        this.takingBack = undefined;
      });
    }
    // nothing to ship while the tail comes back: the slave asks again
    if (this.takingBack) return replicaReply(frame, offset, { kind: 'none' }, this.d.repl.positions());
    const cursor = stream > 0 ? this.cursorFor(id, stream, offset, frame.header.follow === true) : undefined;
    // a request of a stream this master does not follow (an older one, or one begun before it was master)
    if (cursor === null) return replicaReply(frame, offset, { kind: 'none' }, this.d.repl.positions());
    const from = (): number => cursor?.offset ?? offset;
    const answer = (): Frame => this.chunkReply(frame, id, from(), maxBytes, cursor);
    let held = 0;
    for (const h of this.holds) if (h.slave === id) held++;
    // a stream's requests are answered in the order they came: one behind a held one waits too
    const first = cursor === undefined || held === 0 ? answer() : undefined;
    if ((first && first.header.kind !== 'none') || waitMs === 0 || reply === undefined || this.stopped || held >= MAX_PULLS_IN_FLIGHT) return first ?? answer();
    const hold: Hold = {
      slave: id,
      from,
      done: () => {
        this.d.clock.clearTimeout(hold.timer);
        this.holds = this.holds.filter((h) => h !== hold);
        try {
          reply(answer());
        } catch (err) {
          this.d.logger.warn({ err, slave: id }, 'a held replication request could not be answered');
        }
      },
      timer: this.d.clock.setTimeout(() => hold.done(), waitMs),
    };
    this.holds.push(hold);
    return undefined;
  }

  /**
   * Fixed roles: a slave holds more than this master, and the master has written nothing since it started: it
   * lost an unflushed tail in a power loss (async flush) that its slave had received, and acknowledged (a sync
   * master did so because the slave held it). The master takes the tail back before it takes a write, rather
   * than have the slave drop it. Under a controller the epochs decide instead.
   */
  private shouldTakeBack(slaveOffset: number): boolean {
    const w = this.d.repl.positions().writeOffset;
    return !this.d.controlled && this.d.request !== undefined && !this.takingBack && !this.stopped && slaveOffset > w && w === this.base;
  }

  private async takeBackTail(slave: string, to: number): Promise<void> {
    const from = this.d.repl.positions().writeOffset;
    this.d.logger.warn({ slave, from, to, bytes: to - from }, 'a slave holds a commit log tail this master lost: taking it back before taking writes');
    try {
      while (!this.stopped) {
        const at = this.d.repl.positions().writeOffset;
        if (at >= to) break;
        const reply = await this.d.request!(slave, request(RequestCode.HA_READ_TAIL, { brokerName: this.d.brokerName, offset: at, maxBytes: this.chunkCap() }), 3000);
        const h = reply.header as unknown as HaPullReplyHeader;
        if (reply.status !== Status.OK || h.kind !== 'data') throw new Error(`${slave} answered ${reply.status === Status.OK ? h.kind : String(reply.header.error)} for ${at}`);
        const r = await this.d.repl.appendReplica(Number(h.offset), reply.body);
        if (r.status !== Status.OK) throw new Error(`appending its records at ${String(h.offset)}: ${r.message ?? r.status}`);
        this.base = this.d.repl.positions().writeOffset;
      }
      this.d.logger.warn({ slave, writeOffset: this.d.repl.positions().writeOffset }, 'took back the tail: taking writes');
    } catch (err) {
      // the slave's tail does not continue this log (it diverged): it drops it when it asks next ('ahead')
      this.base = -1;
      this.d.logger.error({ err, slave }, 'could not take back the tail the slave holds; the slave drops it');
    }
  }

  /**
   * The cursor a request of `stream` reads from: a new one at `offset` for the first of a stream (the slave's
   * requests still held belong to an earlier stream, of this process or of one before a restart with the same
   * number: they are answered now, and it does not read them), the stream's for one that follows, null when this
   * master does not follow that stream.
   */
  private cursorFor(slave: number, stream: number, offset: number, follow: boolean): Cursor | null {
    if (follow) {
      const c = this.cursors.get(slave);
      return c?.stream === stream ? c : null;
    }
    for (const h of this.holds.filter((x) => x.slave === slave)) h.done();
    const next = { stream, offset };
    this.cursors.set(slave, next);
    return next;
  }

  /** A chunk buffer back for the next reply, or a new one of the largest chunk's size (at most SPARE_CHUNKS kept). */
  private spare(buf?: Uint8Array): void {
    if (this.spareChunks.length >= SPARE_CHUNKS) return;
    this.spareChunks.push(buf ?? Buffer.allocUnsafe(this.chunkCap()));
  }

  /** The most bytes of records one reply carries: maxChunkBytes, below the transport's frame limit. */
  private chunkCap(): number {
    return Math.max(1, Math.min(this.d.settings.maxChunkBytes, this.d.maxPayload() - REPLY_OVERHEAD));
  }

  /** Records from `offset` for a slave; a cursor it was read through moves past them. */
  private chunkReply(frame: Frame, slaveId: number, offset: number, maxBytes: number, cursor: Cursor | undefined): Frame {
    const pos = this.d.repl.positions();
    const epochs = this.d.controlled?.epochs() ?? [];
    // a transfer never spans epochs: the slave notes each epoch's start as the master has it
    const next = nextEpochStart(epochs, offset);
    const into = this.spareChunks.pop();
    const r = this.d.repl.readReplica(offset, next !== undefined ? Math.min(maxBytes, next - offset) : maxBytes, into);
    // The chunk goes with the reply, lent: a direct link gives it back once written (else the GC takes it). Back
    // comes a spare read into, or, for a buffer made for this chunk alone, a new spare of the largest chunk's size:
    // while no link gives anything back (over NATS or in memory) nothing is made beyond each chunk's own bytes.
    const readInto = into !== undefined && r.kind === 'data' && r.data.buffer === into.buffer;
    if (r.kind === 'data') lend(r.data, readInto ? () => this.spare(into) : () => this.spare());
    // nothing to read: the spare waits for the next; one too short for this read (max_payload grew) is dropped
    if (into !== undefined && r.kind !== 'data') this.spare(into);
    const e = r.kind === 'data' ? epochAt(epochs, r.offset) : undefined;
    const confirm = this.confirmOffset();
    if (r.kind === 'ahead') this.d.logger.warn({ slave: slaveId, slaveOffset: offset, masterWrite: pos.writeOffset }, 'a slave holds a commit log tail this master does not: it must truncate it');
    if (r.kind === 'data') {
      const s = this.replicas.get(slaveId);
      if (s) s.shippedAtWrite = pos.writeOffset;
      if (cursor) cursor.offset = r.offset + r.data.length;
    }
    return replicaReply(frame, offset, r, pos, {
      confirmOffset: confirm === Infinity ? -1 : confirm,
      epoch: e?.epoch ?? 0,
      epochStart: e?.startOffset ?? 0,
      topics: this.d.topicsVersion?.() ?? '',
      stream: cursor?.stream ?? 0,
    });
  }

  private report(id: number, address: string, ackOffset: number, writeOffset: number): void {
    const prev = this.replicas.get(id);
    const masterWrite = this.d.repl.positions().writeOffset;
    const now = this.d.clock.now();
    const wasInSync = prev !== undefined && isInSync(prev, now, this.d.settings);
    const next = reported(prev, { id, address, ackOffset, writeOffset }, masterWrite, now);
    this.replicas.set(id, next);
    if (!wasInSync && isInSync(next, now, this.d.settings)) this.d.logger.info({ slave: id, address, ackOffset }, 'a slave caught up: in the in-sync set');
    if (this.waits.length > 0) this.settleWaits();
    this.confirm();
    this.proposeIfChanged();
  }

  private settleWaits(): void {
    const now = this.inSync();
    const left: Wait[] = [];
    for (const w of this.waits) {
      if (batchSatisfied(w.end, w.setAtWrite, now, this.d.brokerId, this.replicas, this.d.settings)) {
        this.d.clock.clearTimeout(w.timer);
        w.resolve({ status: Status.OK });
      } else left.push(w);
    }
    this.waits = left;
  }

  /** Answers held requests with records to ship, in the order they came (each moves its stream's cursor). */
  private wake(writeOffset: number): void {
    for (const h of [...this.holds]) if (writeOffset > h.from()) h.done();
  }

  /** The HA status of this master: its in-sync set and each slave's progress (lag in messages counted up to 64 MiB). */
  status(): HaStatus {
    const pos = this.d.repl.positions();
    const now = this.d.clock.now();
    const set = this.inSync();
    const slaves: HaSlaveStatus[] = [...this.replicas.values()]
      .sort((a, b) => a.id - b.id)
      .map((r) => {
        const s: HaSlaveStatus = {
          brokerId: r.id,
          address: r.address,
          ackOffset: r.ackOffset,
          lagBytes: Math.max(0, pos.writeOffset - r.ackOffset),
          lastContact: r.lastContact,
          sinceContactMs: now - r.lastContact,
          inSync: set.includes(r.id),
        };
        const n = this.counter.between(r.ackOffset, pos.writeOffset);
        if (n !== undefined) s.lagMessages = n;
        return s;
      });
    return {
      brokerName: this.d.brokerName,
      brokerId: this.d.brokerId,
      address: this.d.address,
      role: 'master',
      mode: this.d.settings.mode,
      master: this.d.address,
      writeOffset: pos.writeOffset,
      flushedOffset: pos.flushedOffset,
      inSync: set,
      minInSyncReplicas: this.d.settings.minInSyncReplicas,
      slaves,
    };
  }

  /** Answers held requests and the writes still waiting (FLUSH_SLAVE_TIMEOUT: they are stored). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.sub.unsubscribe();
    for (const h of [...this.holds]) h.done();
    for (const w of this.waits.splice(0)) {
      this.d.clock.clearTimeout(w.timer);
      w.resolve(this.notReplicated(w.setAtWrite, 'the broker stopped before its replicas acknowledged'));
    }
  }
}

