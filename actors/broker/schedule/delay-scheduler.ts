import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';
import type { StorageBackend } from '../../../store/backend.js';
import { readJsonFileAs, shape, writeJsonAtomic, type Shape } from '../../../store/config-file.js';
import type { Clock, TimerHandle } from '../../../core/clock.js';
import { SCHEDULE_TOPIC } from '../../protocol/validation.js';
import { Status } from '../../../core/status.js';
import { Persister } from '../persister.js';
import { fromScheduled, scheduleQueueOf, storedWithWarning, writtenAt } from '../put-message.js';
import type { StorePort, StorePutMessage } from '../store-port.js';

/**
 * Delayed delivery, as RocketMQ's ScheduleMessageService: a delayed message waits in the schedule topic's
 * queue for its level; per level, the scheduler reads that queue in order from its own offset, writes every
 * message whose time has come (store time + the level's delay) back to its real topic and queue in one batch,
 * and sleeps until the next one is due. Offsets are persisted to `<storeDir>/config/delayOffsets.json`, so
 * after a restart nothing due is lost (a message may be delivered twice if the broker stopped between the
 * write and the offset's persistence: at least once).
 *
 * The persisted offset never runs ahead of what is durable: with async flush the store acknowledges the write
 * back before its flush, so an offset moves in the file only once the commit log is flushed past the messages
 * written for it (StorePort.whenRecordsFlushed). A power loss in between loses the copies, not the messages: the
 * scheduler reads them again from the older offset and writes them again. A clean stop persists the offsets
 * the scheduler reached: the store's close, after it, flushes everything written.
 */

export interface DelayOffsetsFile {
  offsetTable: Record<string, number>;
}

export const DELAY_OFFSETS_FILE = 'config/delayOffsets.json';

/** The shape of delayOffsets.json: `{ offsetTable: { "<level>": offset } }`. */
export const delayOffsetsShape: Shape<DelayOffsetsFile> = shape.fields<DelayOffsetsFile>({
  offsetTable: shape.record(/^[1-9]\d{0,5}$/, 'a delay level (1, 2, ...)', shape.int(0)),
});

/** Loads delayOffsets.json (undefined when absent); a malformed file or one of the wrong shape throws ConfigError naming it. */
export function loadDelayOffsets(storage: StorageBackend, path: string): DelayOffsetsFile | undefined {
  return readJsonFileAs(storage, path, delayOffsetsShape);
}
const BATCH = 64;
const RETRY_MS = 1000;

export interface DelaySchedulerOptions {
  store: StorePort;
  storage: StorageBackend;
  storeDir: string;
  clock: Clock;
  logger: Logger;
  /** Delay of each level in ms (level 1 first). */
  levels: readonly number[];
}

interface LevelState {
  /** The next queue offset to read. */
  offset: number;
  /** The offset persisted: below it, every message is written back durably (or needs no write). */
  durable: number;
  /** Moves of `durable`, in order: each waits for the flush that covers its writes. */
  settled: Promise<void>;
  timer: TimerHandle | undefined;
  running: boolean;
  again: boolean;
}

export class DelayScheduler {
  private readonly state = new Map<number, LevelState>();
  private readonly persister: Persister;
  private sub: Subscription | undefined;
  private stopped = false;
  private readonly path: string;

  constructor(private readonly o: DelaySchedulerOptions) {
    this.path = `${o.storeDir}/${DELAY_OFFSETS_FILE}`;
    const file = loadDelayOffsets(o.storage, this.path);
    for (let level = 1; level <= o.levels.length; level++) {
      const offset = file?.offsetTable[String(level)] ?? 0;
      this.state.set(level, { offset, durable: offset, settled: Promise.resolve(), timer: undefined, running: false, again: false });
    }
    this.persister = new Persister(() => writeJsonAtomic(o.storage, this.path, this.toFile()));
  }

  /** The persisted form: each level's durable offset (the reached one once stopped, see the header). */
  toFile(): DelayOffsetsFile {
    const offsetTable: Record<string, number> = {};
    for (const [level, s] of this.state) offsetTable[String(level)] = this.stopped ? s.offset : s.durable;
    return { offsetTable };
  }

  /** Offset up to which the persisted file may go, per level (what is durably written back). */
  durableOffsetOf(level: number): number | undefined {
    return this.state.get(level)?.durable;
  }

  /** Offset of the next message the scheduler looks at, per level. */
  offsetOf(level: number): number | undefined {
    return this.state.get(level)?.offset;
  }

  start(): void {
    this.sub = this.o.store.newData$.subscribe((d) => {
      if (d.topic === SCHEDULE_TOPIC) this.kick(d.queueId + 1);
    });
    for (const level of this.state.keys()) this.kick(level);
  }

  /** Stops the timers and persists the offsets (a scheduler never started, a slave's, leaves the file as it is). */
  async stop(): Promise<void> {
    const started = this.sub !== undefined;
    this.stopped = true;
    if (!started) return;
    this.sub?.unsubscribe();
    for (const s of this.state.values()) this.o.clock.clearTimeout(s.timer);
    await this.persister.save();
  }

  private kick(level: number): void {
    const s = this.state.get(level);
    if (!s || this.stopped) return;
    if (s.running) {
      s.again = true;
      return;
    }
    this.o.clock.clearTimeout(s.timer);
    s.timer = undefined;
    s.running = true;
    this.run(level, s)
      .catch((err: unknown) => {
        this.o.logger.error({ err, level }, 'delay scheduler failed; retrying');
        this.sleep(level, s, RETRY_MS);
      })
      .finally(() => {
        s.running = false;
        if (s.again) {
          s.again = false;
          this.kick(level);
        }
      });
  }

  private sleep(level: number, s: LevelState, ms: number): void {
    if (this.stopped) return;
    this.o.clock.clearTimeout(s.timer);
    s.timer = this.o.clock.setTimeout(() => this.kick(level), Math.max(1, ms));
  }

  /**
   * Moves the level's persisted offset to `until` once the records of the write back that got it there
   * (`written`, commit log offsets; none when nothing was written) are durable, after the moves before it.
   */
  private settle(s: LevelState, until: number, written: readonly number[]): void {
    s.settled = s.settled
      .then(() => this.o.store.whenRecordsFlushed(written))
      .then(() => {
        if (until <= s.durable || this.stopped) return;
        s.durable = until;
        this.persister.save().catch((err: unknown) => this.o.logger.error({ err }, 'could not persist delay offsets'));
      })
      .catch((err: unknown) => this.o.logger.warn({ err, until }, 'delayed messages written back but not flushed: their offset is not persisted'));
  }

  private async run(level: number, s: LevelState): Promise<void> {
    const delay = this.o.levels[level - 1]!;
    const queueId = scheduleQueueOf(level);
    for (;;) {
      if (this.stopped) return;
      const r = await this.o.store.getMessages({ topic: SCHEDULE_TOPIC, queueId, offset: s.offset, maxCount: BATCH });
      if (s.offset < r.minOffset) {
        s.offset = r.minOffset; // retention removed what we had not moved: nothing to do for those
        this.settle(s, s.offset, []);
        continue;
      }
      if (r.messages.length === 0) {
        if (r.nextOffset > s.offset) {
          s.offset = r.nextOffset;
          this.settle(s, s.offset, []);
          continue;
        }
        return; // caught up: newData$ wakes us
      }
      const now = this.o.clock.now();
      const due: StorePutMessage[] = [];
      let dueUntil = s.offset;
      let wait = 0;
      for (const m of r.messages) {
        const at = m.storeTimestamp + delay;
        if (at > now) {
          wait = at - now;
          break;
        }
        try {
          due.push(fromScheduled(m));
        } catch (err) {
          this.o.logger.error({ err, msgId: m.msgId }, 'dropping a malformed scheduled message');
        }
        dueUntil = m.queueOffset + 1;
      }
      let written: readonly number[] = [];
      if (due.length > 0) {
        const put = await this.o.store.putMessages(due);
        // FLUSH_DISK_TIMEOUT: stored, its flush late; writing the messages again would deliver them twice
        if (put.status !== Status.OK && !storedWithWarning(put.status)) {
          this.o.logger.warn({ status: put.status, message: put.message, level }, 'delayed messages not written back yet');
          this.sleep(level, s, RETRY_MS);
          return;
        }
        written = writtenAt(put);
      }
      if (dueUntil > s.offset) {
        s.offset = dueUntil;
        this.settle(s, dueUntil, written);
      }
      if (wait > 0) {
        this.sleep(level, s, wait);
        return;
      }
    }
  }
}
