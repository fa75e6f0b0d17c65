import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';
import type { StorageBackend } from '../../../store/backend.js';
import { readJsonFileAs, writeJsonAtomic } from '../../../store/config-file.js';
import type { Clock, TimerHandle } from '../../../core/clock.js';
import type { MessageExt } from '../../../core/message.js';
import { Status } from '../../../core/status.js';
import { Persister } from '../persister.js';
import type { StorePort, StorePutMessage } from '../store-port.js';
import { TimerHeap, TimerProgress, timerProgressShape, type TimerEntry, type TimerProgressFile } from './timer-index.js';
import { TIMER_QUEUE, TIMER_TOPIC, deliverAtOf, fromTimer } from './timer-message.js';
import { storedWithWarning, writtenAt } from '../put-message.js';

/**
 * Delivery at any timestamp (RocketMQ 5's timer messages). A timer message waits in queue 0 of TIMER_TOPIC;
 * the scheduler reads that queue in order into an in-memory min-heap of (due time, queue offset), sets one
 * timer on the injected clock for the earliest, and when it fires writes every due message back to its real
 * topic and queue (one store batch per FIRE_BATCH messages). Progress (which queue offsets are done) is
 * persisted to `<storeDir>/config/timerOffsets.json` after each batch: after a restart the queue is read
 * again from the lowest offset not done, skipping those done, so nothing is lost; a message may be written
 * twice if the broker stopped between a batch and the persistence of its progress (at least once).
 *
 * A fired message counts as done only once the commit log is flushed past its write back (StorePort.whenRecordsFlushed):
 * with async flush the store acknowledges the write before its flush, and progress persisted before it would
 * let a power loss take the copy while the file says it was fired. A clean stop marks every fired message done:
 * the store's close, after it, flushes everything written.
 */

export const TIMER_OFFSETS_FILE = 'config/timerOffsets.json';

/** Loads timerOffsets.json (undefined when absent); a malformed file or one of the wrong shape throws ConfigError naming it. */
export function loadTimerProgress(storage: StorageBackend, path: string): TimerProgressFile | undefined {
  return readJsonFileAs(storage, path, timerProgressShape);
}
const READ_BATCH = 256;
const FIRE_BATCH = 256;
const RETRY_MS = 1000;
/** Messages due within this window keep their body in memory (no second read when they fire)... */
const KEEP_WINDOW_MS = 60_000;
/** ...up to this many body bytes in all. */
const MAX_KEPT_BYTES = 64 * 1024 * 1024;

export interface TimerSchedulerOptions {
  store: StorePort;
  storage: StorageBackend;
  storeDir: string;
  clock: Clock;
  logger: Logger;
}

interface Entry extends TimerEntry {
  msg?: MessageExt;
}

export class TimerScheduler {
  private readonly heap = new TimerHeap<Entry>();
  private readonly progress: TimerProgress;
  private readonly persister: Persister;
  private readonly path: string;
  private readOffset: number;
  private keptBytes = 0;
  private timer: TimerHandle | undefined;
  private sub: Subscription | undefined;
  private running = false;
  private again = false;
  private stopped = false;
  /** Messages written back to their real topic so far. */
  fired = 0;
  /** Timer-queue offsets fired whose write back is not known durable yet (not done in the progress). */
  private readonly unsettled = new Set<number>();
  /** Markings of fired offsets as done, in order: each waits for the flush that covers its write back. */
  private settled: Promise<void> = Promise.resolve();

  constructor(private readonly o: TimerSchedulerOptions) {
    this.path = `${o.storeDir}/${TIMER_OFFSETS_FILE}`;
    this.progress = new TimerProgress(loadTimerProgress(o.storage, this.path));
    this.readOffset = this.progress.lowWater;
    this.persister = new Persister(() => writeJsonAtomic(o.storage, this.path, this.progress.toFile()));
  }

  /** Timer messages read and not yet due. */
  get pending(): number {
    return this.heap.size;
  }

  /** The persisted form of the progress. */
  toFile(): TimerProgressFile {
    return this.progress.toFile();
  }

  start(): void {
    this.sub = this.o.store.newData$.subscribe((d) => {
      if (d.topic === TIMER_TOPIC) this.kick();
    });
    this.kick();
  }

  /** Stops the timer and persists the progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.sub?.unsubscribe();
    this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const o of this.unsettled) this.progress.markDone(o);
    this.unsettled.clear();
    await this.persister.save();
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.running = true;
    this.run()
      .then(
        () => this.arm(),
        (err: unknown) => {
          this.o.logger.error({ err }, 'timer scheduler failed; retrying');
          this.sleep(RETRY_MS);
        },
      )
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private sleep(ms: number): void {
    if (this.stopped) return;
    this.o.clock.clearTimeout(this.timer);
    this.timer = this.o.clock.setTimeout(() => this.kick(), Math.max(0, ms));
  }

  /** One timer for the earliest message. */
  private arm(): void {
    const next = this.heap.peek();
    if (next && !this.stopped && this.timer === undefined) this.sleep(next.at - this.o.clock.now());
  }

  private async run(): Promise<void> {
    await this.readNew();
    await this.fireDue();
  }

  /** Reads the timer queue from where it stopped into the heap. */
  private async readNew(): Promise<void> {
    let moved = false;
    for (;;) {
      if (this.stopped) return;
      const r = await this.o.store.getMessages({ topic: TIMER_TOPIC, queueId: TIMER_QUEUE, offset: this.readOffset, maxCount: READ_BATCH });
      if (this.readOffset < r.minOffset) {
        // retention removed messages never read: nothing can deliver them any more
        this.o.logger.warn({ from: this.readOffset, to: r.minOffset }, 'timer messages removed by retention before their time');
        this.progress.raiseTo(r.minOffset);
        this.readOffset = r.minOffset;
        moved = true;
        continue;
      }
      if (r.messages.length === 0 && r.nextOffset <= this.readOffset) break;
      const now = this.o.clock.now();
      let expect = this.readOffset;
      for (const m of r.messages) {
        for (let o = expect; o < m.queueOffset; o++) this.progress.markDone(o); // blank or unreadable entries
        expect = m.queueOffset + 1;
        if (this.progress.isDone(m.queueOffset)) continue; // fired before a restart
        const at = deliverAtOf(m);
        if (at === undefined) {
          this.o.logger.error({ msgId: m.msgId }, 'dropping a timer message without a valid DELIVER_AT');
          this.progress.markDone(m.queueOffset);
          continue;
        }
        const e: Entry = { at, offset: m.queueOffset, msgId: m.msgId };
        if (at - now <= KEEP_WINDOW_MS && this.keptBytes + m.body.length <= MAX_KEPT_BYTES) {
          e.msg = m;
          this.keptBytes += m.body.length;
        }
        this.heap.push(e);
      }
      for (let o = expect; o < r.nextOffset; o++) this.progress.markDone(o);
      moved ||= r.nextOffset > this.readOffset;
      this.readOffset = Math.max(this.readOffset, r.nextOffset);
    }
    if (moved) this.persist();
  }

  /** Writes every due message back, one store batch per FIRE_BATCH. */
  private async fireDue(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const due = this.heap.popDue(this.o.clock.now(), FIRE_BATCH);
      if (due.length === 0) return;
      const puts: StorePutMessage[] = [];
      const sent: Entry[] = [];
      for (const e of due) {
        const m = e.msg ?? (await this.o.store.lookupById(e.msgId));
        if (e.msg) this.keptBytes -= e.msg.body.length;
        e.msg = undefined;
        if (!m) {
          this.o.logger.error({ msgId: e.msgId, offset: e.offset }, 'timer message no longer in the store');
          this.progress.markDone(e.offset);
          continue;
        }
        try {
          puts.push(fromTimer(m));
          sent.push(e);
        } catch (err) {
          this.o.logger.error({ err, msgId: e.msgId }, 'dropping a malformed timer message');
          this.progress.markDone(e.offset);
        }
      }
      if (puts.length > 0) {
        const r = await this.o.store.putMessages(puts);
        // FLUSH_DISK_TIMEOUT: stored, its flush late; firing the entries again would deliver them twice
        if (r.status !== Status.OK && !storedWithWarning(r.status)) {
          this.o.logger.warn({ status: r.status, message: r.message }, 'timer messages not written back yet');
          for (const e of sent) this.heap.push(e);
          throw new Error(`the store refused ${puts.length} due timer messages (status ${r.status})`);
        }
        this.settle(sent.map((e) => e.offset), writtenAt(r));
        this.fired += sent.length;
      }
      this.persist();
    }
  }

  /** Marks `offsets` done (and persists) once the records at `written` are durable, after earlier markings. */
  private settle(offsets: number[], written: readonly number[]): void {
    for (const o of offsets) this.unsettled.add(o);
    this.settled = this.settled
      .then(() => this.o.store.whenRecordsFlushed(written))
      .then(() => {
        if (this.stopped) return;
        for (const o of offsets) {
          this.unsettled.delete(o);
          this.progress.markDone(o);
        }
        this.persist();
      })
      .catch((err: unknown) => this.o.logger.warn({ err, messages: offsets.length }, 'timer messages written back but not flushed: not marked done'));
  }

  private persist(): void {
    this.persister.save().catch((err: unknown) => this.o.logger.error({ err }, 'could not persist timer progress'));
  }
}
