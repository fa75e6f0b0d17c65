import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../../core/clock.js';
import { Status, statusName } from '../../../core/status.js';
import type { Frame } from '../../../transports/frame.js';
import { releaseBody } from '../../../transports/body-loans.js';
import type { HaEpochsReply, HaPullHeader, HaPullReplyHeader, HaStatus } from '../../protocol/commands.js';
import { appendEpoch, consistentPoint, lastEpoch, truncateEpochs, type EpochEntry } from '../../../store/epoch-file.js';
import { RequestCode } from '../../protocol/request-codes.js';
import { expectOk, jsonBody, parseJsonBody, request } from '../../protocol/replies.js';
import type { ReplicationPort } from '../store-port.js';
import type { HaSettings } from './ha-options.js';
import type { MasterConfig, SlaveConfigReport } from './config-sync.js';

/**
 * A slave's side of replication: a stream of HA_PULL requests to its master, the first from its own write
 * offset, then up to `pullsInFlight` at once, each for what follows the last the master answered (see
 * HaPullHeader); each carries what the slave holds (its flushed offset when it flushes sync, else its write
 * offset) as the acknowledgement. Replies are taken in the order the requests went: their records are checked
 * and appended through the slave's own commit log (which indexes them), and another request goes after each, so
 * it acknowledges what it just appended. Nothing new: the master holds a request up to pullWaitMs. A request
 * that fails or times out ends the stream; the next starts after a backoff (100 ms doubling to 2 s), from
 * wherever the log is then: a cut connection resumes where it stopped. Every configSyncMs it also copies the
 * master's topics, offsets and schedule progress (config-sync.ts). Plain code on the injected clock.
 */

export interface HaSlaveDeps {
  brokerName: string;
  brokerId: number;
  address: string;
  /** The master it follows now. */
  master: () => string;
  repl: ReplicationPort;
  request: (to: string, frame: Frame, timeoutMs: number) => Promise<Frame>;
  clock: Clock;
  logger: Logger;
  settings: HaSettings;
  maxPayload: () => number;
  /** The slave's offsets, sent to the master with each config sync. */
  offsets: () => SlaveConfigReport['offsets'];
  /** Applies what a config sync brought (topics, offsets, schedule progress). */
  applyConfig: (m: MasterConfig) => Promise<void>;
  /** Timeout of a request beyond its hold (default 3000 ms). */
  requestTimeoutMs?: number;
  /**
   * Under a controller: the slave's epoch entries (compared with the master's before it follows, extended as
   * records of a new epoch arrive) and where they are saved.
   */
  controlled?: {
    epochs: () => readonly EpochEntry[];
    setEpochs: (entries: EpochEntry[]) => Promise<void>;
  };
}

const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 2_000;

export class HaSlave {
  private stopped = true;
  private loopDone: Promise<void> = Promise.resolve();
  private sleepTimer: TimerHandle | undefined;
  private wakeSleep: (() => void) | undefined;
  /** Ends the wait for a reply (stop(): the stream does not wait for the master to answer what it holds). */
  private wakeStop: () => void = () => undefined;
  private configTimer: TimerHandle | undefined;
  private backoff = BACKOFF_FIRST_MS;
  /** The master's write offset as last heard, and when (the injected clock). */
  private masterWrite = 0;
  private lastContact = -Infinity;
  private lastError: string | undefined;
  /** Whether the start point of an empty store was settled (ha.startFrom). */
  private startSettled = false;
  /** A config sync under way; the master's topic table version as last heard, and as last copied. */
  private syncing = false;
  private masterTopics = '';
  private syncedTopics = '';
  /** Under a controller: whether the log was compared with the master's epochs (and cut) since the last start. */
  private isAligned = false;
  /** The last stream of requests begun (HaPullHeader.stream). */
  private streams = 0;

  constructor(private readonly d: HaSlaveDeps) {}

  /** Whether the log is known to agree with the master's (always without a controller). */
  get aligned(): boolean {
    return !this.d.controlled || this.isAligned;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.isAligned = false;
    this.loopDone = this.loop();
    this.scheduleConfigSync(0);
  }

  /** Stops asking; resolves once a local step under way (an append, a truncation) is done. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.d.clock.clearTimeout(this.configTimer);
    this.d.clock.clearTimeout(this.sleepTimer);
    this.wakeSleep?.();
    this.wakeStop();
    await this.loopDone;
  }

  private get timeoutMs(): number {
    return this.d.requestTimeoutMs ?? 3_000;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let ok = false;
      try {
        ok = await this.step();
      } catch (err) {
        this.failed(err instanceof Error ? err.message : String(err));
      }
      if (this.stopped) break;
      if (ok) this.backoff = BACKOFF_FIRST_MS;
      else {
        await this.sleep(this.backoff);
        this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2);
      }
    }
  }

  /**
   * Under a controller, before following: cuts the log at the end of the newest epoch it shares with the master
   * (a tail written by an old master in an epoch the new one does not share is divergent), crash-safely
   * (MessageStore.truncateTail), then the epoch entries past it.
   */
  private async align(master: string): Promise<boolean> {
    const c = this.d.controlled!;
    const reply = await this.d.request(master, request(RequestCode.HA_GET_EPOCHS, { brokerName: this.d.brokerName, brokerId: this.d.brokerId }), this.timeoutMs);
    if (this.stopped) return false;
    if (reply.status !== Status.OK) {
      this.failed(`epochs of ${master}: ${statusName(reply.status)}: ${String(reply.header.error ?? '')}`);
      return false;
    }
    const theirs = parseJsonBody<HaEpochsReply>(reply);
    const pos = this.d.repl.positions();
    const point = consistentPoint(c.epochs(), pos.writeOffset, theirs.entries, theirs.writeOffset);
    if (point < pos.writeOffset) {
      this.d.logger.warn({ master, from: point, to: pos.writeOffset, bytes: pos.writeOffset - point }, 'this broker holds a commit log tail its new master does not share: truncating it before following');
      await this.d.repl.truncateTail(point);
    }
    // entries starting past the cut hold nothing of it; one starting at it is the new master's, kept
    await c.setEpochs(truncateEpochs(c.epochs(), point + 1));
    this.isAligned = true;
    return true;
  }

  /** With `startFrom: 'last-file'`, an empty store starts at the master's last commit log segment. */
  private async settleStart(master: string): Promise<boolean> {
    if (this.d.repl.positions().writeOffset === 0) {
      const reply = await this.d.request(master, request(RequestCode.HA_GET_EPOCHS, { brokerName: this.d.brokerName, brokerId: this.d.brokerId }), this.timeoutMs);
      if (this.stopped) return false;
      if (reply.status !== Status.OK) {
        this.failed(`write offset of ${master}: ${statusName(reply.status)}: ${String(reply.header.error ?? '')}`);
        return false;
      }
      const { writeOffset } = parseJsonBody<HaEpochsReply>(reply);
      await this.d.repl.startAtSegmentOf(writeOffset);
      this.d.logger.info({ master, from: this.d.repl.positions().writeOffset }, 'an empty replica starts at its master\'s last commit log segment');
    }
    this.startSettled = true;
    return true;
  }

  /** What follows from a start or a stream; false when the next should wait a backoff. */
  private async step(): Promise<boolean> {
    if (this.d.settings.startFrom === 'last-file' && !this.startSettled) return this.settleStart(this.d.master());
    if (this.d.controlled && !this.isAligned) return this.align(this.d.master());
    return this.follow();
  }

  /**
   * One stream of requests: the first from the write offset; once the master answers on the stream, up to
   * pullsInFlight, another after each reply is handled. Ends (true) when the master follows another stream or
   * none, or a reply asks to start again; false on a failure.
   */
  private async follow(): Promise<boolean> {
    const master = this.d.master();
    const stream = ++this.streams;
    const pending: Promise<Frame | Error>[] = [];
    const ask = (follow: boolean): void => {
      const pos = this.d.repl.positions();
      const header: HaPullHeader = {
        brokerName: this.d.brokerName,
        brokerId: this.d.brokerId,
        address: this.d.address,
        offset: pos.writeOffset,
        ackOffset: this.d.repl.flush === 'sync' ? pos.flushedOffset : pos.writeOffset,
        maxBytes: Math.max(64 * 1024, Math.min(this.d.settings.maxChunkBytes, this.d.maxPayload() - 4096)),
        waitMs: this.d.settings.pullWaitMs,
        stream,
        follow,
      };
      // a request left behind when the stream ends settles unread
      pending.push(
        this.d.request(master, request(RequestCode.HA_PULL, { ...header }), this.d.settings.pullWaitMs + this.timeoutMs).catch((err: unknown) =>
          err instanceof Error ? err : new Error(String(err)),
        ),
      );
    };
    ask(false);
    while (!this.stopped) {
      const reply = await this.reply(pending.shift()!);
      if (this.stopped || reply === undefined) return true;
      if (reply instanceof Error) {
        this.failed(reply.message);
        return false;
      }
      const next = await this.handle(master, reply);
      if (next !== 'next') return next === 'again';
      // a master that answers on another stream (0: none) does not follow this one
      if (Number(reply.header.stream ?? 0) !== stream) return true;
      while (pending.length < this.d.settings.pullsInFlight && !this.stopped) ask(true);
    }
    return true;
  }

  /** The reply `p` brings, or undefined once stop() is called. */
  private reply(p: Promise<Frame | Error>): Promise<Frame | Error | undefined> {
    return new Promise((resolve) => {
      this.wakeStop = () => resolve(undefined);
      void p.then(resolve);
    });
  }

  /** A reply: 'next' to go on with the stream, 'again' to start another, 'backoff' to wait first. */
  private async handle(master: string, reply: Frame): Promise<'next' | 'again' | 'backoff'> {
    if (reply.status !== Status.OK) {
      this.failed(`${statusName(reply.status)}: ${String(reply.header.error ?? '')}`);
      return 'backoff';
    }
    const h = reply.header as unknown as HaPullReplyHeader;
    this.masterWrite = Number(h.masterWrite);
    this.lastContact = this.d.clock.now();
    const c = this.d.controlled;
    if (c && typeof h.confirmOffset === 'number' && h.confirmOffset >= 0) this.d.repl.limitDispatch(h.confirmOffset);
    // the master's topics changed since the last copy: copy them now rather than at the next period (a topic
    // created just before a failover must be on the new master: apache/rocketmq#9804)
    if (typeof h.topics === 'string' && h.topics !== this.syncedTopics) {
      this.masterTopics = h.topics;
      if (!this.syncing) this.scheduleConfigSync(0);
    }
    switch (h.kind) {
      case 'data': {
        const epoch = Number(h.epoch);
        const last = c ? lastEpoch(c.epochs()) : undefined;
        // the epoch's entry goes first: an entry at the log's end is kept by a restart, data past an entry is not lost
        if (c && epoch > 0 && (last === undefined || epoch > last.epoch)) await c.setEpochs(appendEpoch(c.epochs(), epoch, Number(h.epochStart)));
        const r = await this.d.repl.appendReplica(Number(h.offset), reply.body);
        // appended (or refused) and not read again: the transport may read a later chunk into its memory
        releaseBody(reply.body);
        if (r.status !== Status.OK) {
          this.failed(`appending ${reply.body.length} bytes at ${String(h.offset)}: ${statusName(r.status)} ${r.message ?? ''}`);
          return 'backoff';
        }
        this.recovered();
        return 'next';
      }
      case 'none':
        this.recovered();
        return 'next';
      case 'ahead': {
        if (c) {
          this.isAligned = false; // compare epochs again
          return 'again';
        }
        // The master is the writer of the group: a tail it does not hold was never acknowledged by it as held
        // here, and the master's next writes go to those offsets. The slave drops it and follows.
        const pos = this.d.repl.positions();
        this.d.logger.warn({ master, slaveWrite: pos.writeOffset, masterWrite: this.masterWrite }, 'this slave holds a commit log tail its master does not: truncating it to follow the master');
        await this.d.repl.truncateTail(this.masterWrite);
        return 'again';
      }
      case 'gone':
        this.failed(`the master ${master} no longer holds offset ${String(h.offset)} (its oldest is ${String(h.minOffset)}): this slave cannot catch up; start it on an empty store`);
        return 'backoff';
      default:
        this.failed(`unknown replication reply kind ${String(h.kind)}`);
        return 'backoff';
    }
  }

  private failed(why: string): void {
    if (why !== this.lastError) this.d.logger.warn({ master: this.d.master(), reason: why }, 'replication from the master failed; retrying');
    this.lastError = why;
  }

  private recovered(): void {
    if (this.lastError !== undefined) this.d.logger.info({ master: this.d.master() }, 'replication from the master goes on');
    this.lastError = undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeSleep = () => {
        this.wakeSleep = undefined;
        resolve();
      };
      this.sleepTimer = this.d.clock.setTimeout(() => this.wakeSleep?.(), ms);
    });
  }

  private scheduleConfigSync(ms: number): void {
    if (this.stopped) return;
    this.d.clock.clearTimeout(this.configTimer);
    this.configTimer = this.d.clock.setTimeout(() => {
      this.configTimer = undefined;
      if (this.syncing) return;
      this.syncing = true;
      this.syncConfig()
        .catch((err: unknown) => this.d.logger.warn({ err, master: this.d.master() }, 'copying the master\'s topics and offsets failed; trying again'))
        .finally(() => {
          this.syncing = false;
          this.scheduleConfigSync(this.d.settings.configSyncMs);
        });
    }, ms);
  }

  /** One config sync: sends this slave's offsets, applies the master's state. */
  async syncConfig(): Promise<void> {
    const version = this.masterTopics;
    const report: SlaveConfigReport = { offsets: this.d.offsets() };
    const reply = await this.d.request(this.d.master(), request(RequestCode.HA_SYNC_CONFIG, { brokerName: this.d.brokerName, brokerId: this.d.brokerId }, jsonBody(report)), this.timeoutMs);
    expectOk(reply, `copy the configuration of ${this.d.master()}`);
    if (this.stopped) return;
    await this.d.applyConfig(parseJsonBody<MasterConfig>(reply));
    this.syncedTopics = version;
  }

  status(): HaStatus {
    const pos = this.d.repl.positions();
    const now = this.d.clock.now();
    const ack = this.d.repl.flush === 'sync' ? pos.flushedOffset : pos.writeOffset;
    return {
      brokerName: this.d.brokerName,
      brokerId: this.d.brokerId,
      address: this.d.address,
      role: 'slave',
      master: this.d.master(),
      writeOffset: pos.writeOffset,
      flushedOffset: pos.flushedOffset,
      slaves: [
        {
          brokerId: this.d.brokerId,
          address: this.d.address,
          ackOffset: ack,
          lagBytes: Math.max(0, this.masterWrite - ack),
          lastContact: this.lastContact,
          sinceContactMs: now - this.lastContact,
          inSync: false,
        },
      ],
    };
  }
}
