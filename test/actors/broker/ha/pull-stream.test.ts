import { Subject } from 'rxjs';
import { SimClock } from '../../../../core/clock.js';
import { Status } from '../../../../core/status.js';
import { rootLogger } from '../../../../actors/runtime/environment.js';
import { HaMaster } from '../../../../actors/broker/ha/ha-master.js';
import { HaSlave } from '../../../../actors/broker/ha/ha-slave.js';
import { HaConfigError, resolveHaOptions, type HaOptions } from '../../../../actors/broker/ha/ha-options.js';
import { errorReply, request } from '../../../../actors/protocol/replies.js';
import { RequestCode } from '../../../../actors/protocol/request-codes.js';
import type { HaPullHeader, HaPullReplyHeader } from '../../../../actors/protocol/commands.js';
import type { ReplicaRead, ReplicationPort } from '../../../../actors/broker/store-port.js';
import type { Frame } from '../../../../transports/frame.js';
import { takeLoan } from '../../../../transports/body-loans.js';

/** A commit log as replication sees it: bytes, positions, and the checks an append makes. */
class FakeLog implements ReplicationPort {
  private buf = new Uint8Array(1 << 16);
  writeOffset = 0;
  readonly positions$ = new Subject<{ writeOffset: number; flushedOffset: number }>();
  readonly flush = 'async' as const;
  appends = 0;

  get bytes(): Uint8Array {
    return this.buf.subarray(0, this.writeOffset);
  }

  /** Writes `n` bytes of a pattern that tells every offset apart. */
  write(n: number): void {
    const data = Uint8Array.from({ length: n }, (_, i) => (this.writeOffset + i) % 251);
    this.put(data);
  }

  private put(data: Uint8Array): void {
    while (this.writeOffset + data.length > this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf.set(data, this.writeOffset);
    this.writeOffset += data.length;
    this.positions$.next({ writeOffset: this.writeOffset, flushedOffset: this.writeOffset });
  }

  /** The buffers reads were asked to land in (undefined: none). */
  readonly intos: (Uint8Array | undefined)[] = [];

  readReplica(from: number, maxBytes: number, into?: Uint8Array): ReplicaRead {
    this.intos.push(into);
    if (from > this.writeOffset) return { kind: 'ahead', writeOffset: this.writeOffset };
    if (from === this.writeOffset) return { kind: 'none' };
    const data = this.buf.subarray(from, Math.min(this.writeOffset, from + maxBytes));
    if (into === undefined || into.length < data.length) return { kind: 'data', offset: from, data: data.slice() };
    into.set(data);
    return { kind: 'data', offset: from, data: into.subarray(0, data.length) };
  }

  appendReplica(offset: number, data: Uint8Array): Promise<{ status: number; message?: string }> {
    if (offset !== this.writeOffset) return Promise.resolve({ status: Status.INVALID_ARGUMENT, message: `chunk for ${offset} would land at ${this.writeOffset}` });
    this.appends++;
    this.put(data);
    return Promise.resolve({ status: Status.OK });
  }

  truncateTail(offset: number): Promise<void> {
    this.writeOffset = Math.min(this.writeOffset, offset);
    return Promise.resolve();
  }
  startAtSegmentOf(): Promise<void> {
    return Promise.resolve();
  }
  queueList(): { topic: string; queueId: number; maxOffset: number }[] {
    return [];
  }
  limitDispatch(): void {}
  positions(): { writeOffset: number; flushedOffset: number; minOffset: number; dispatched: number } {
    return { writeOffset: this.writeOffset, flushedOffset: this.writeOffset, minOffset: 0, dispatched: this.writeOffset };
  }
}

const logger = rootLogger('silent');

function settings(o: Partial<HaOptions> = {}): ReturnType<typeof resolveHaOptions> {
  return resolveHaOptions({ mode: 'async', pullWaitMs: 1000, maxChunkBytes: 64, ...o });
}

function newMaster(log: FakeLog, clock: SimClock, o: Partial<HaOptions> = {}): HaMaster {
  return new HaMaster({ brokerName: 'b', brokerId: 0, address: 'broker.b.0', repl: log, clock, logger, settings: settings(o), maxPayload: () => 1 << 20 });
}

function pull(h: Partial<HaPullHeader>): Frame {
  const header: HaPullHeader = { brokerName: 'b', brokerId: 1, address: 'broker.b.1', offset: 0, ackOffset: 0, maxBytes: 64, waitMs: 1000, ...h };
  return request(RequestCode.HA_PULL, { ...header });
}

/** Sends a pull to the master; its answer, now or once held, lands in `answers`. */
function ask(master: HaMaster, answers: Frame[], h: Partial<HaPullHeader>): void {
  const now = master.handlePull(pull(h), (f) => answers.push(f));
  if (now) answers.push(now);
}

const head = (f: Frame): HaPullReplyHeader => f.header as unknown as HaPullReplyHeader;

describe('a master answers a slave\'s stream of replication requests', () => {
  it('reads a chunk into a buffer that a direct link gave back once it wrote the one before', () => {
    const clock = new SimClock();
    const log = new FakeLog();
    const master = newMaster(log, clock);
    log.write(300);
    const answers: Frame[] = [];
    ask(master, answers, { stream: 1, offset: 0 });
    expect(log.intos).toEqual([undefined]); // nothing given back yet: bytes of the chunk's own
    takeLoan(answers[0]!.body)?.(); // what a link does once it has written the reply
    ask(master, answers, { stream: 1, follow: true });
    const spare = log.intos[1]!;
    expect(spare.length).toBe(64); // made as long as the largest chunk (maxChunkBytes)
    expect(answers[1]!.body.buffer).toBe(spare.buffer);
    expect(Array.from(answers[1]!.body)).toEqual(Array.from(log.bytes.subarray(64, 128)));
    takeLoan(answers[1]!.body)?.();
    ask(master, answers, { stream: 1, follow: true });
    expect(log.intos[2]).toBe(spare); // the same buffer again, once written
    ask(master, answers, { stream: 1, follow: true });
    expect(log.intos[3]).toBeUndefined(); // the one before is not back yet: a chunk of its own
    expect(answers.map((f) => head(f).offset)).toEqual([0, 64, 128, 192]);
    master.stop();
  });

  it('drops a spare too short once the frame limit grew, and makes the next as long as a chunk now is', () => {
    const clock = new SimClock();
    const log = new FakeLog();
    let maxPayload = 4096 + 64; // a chunk is at most 64 bytes below this limit
    const master = new HaMaster({ brokerName: 'b', brokerId: 0, address: 'broker.b.0', repl: log, clock, logger, settings: settings({ maxChunkBytes: 1024 }), maxPayload: () => maxPayload });
    log.write(3000);
    const answers: Frame[] = [];
    const pullMax = { maxBytes: 1024 };
    ask(master, answers, { stream: 1, offset: 0, ...pullMax });
    takeLoan(answers[0]!.body)?.();
    maxPayload = 1 << 20; // now a chunk may be 1,024 bytes
    ask(master, answers, { stream: 1, follow: true, ...pullMax });
    expect(log.intos[1]!.length).toBe(64); // the spare made before: too short for this read
    expect(answers[1]!.body.length).toBe(1024);
    takeLoan(answers[1]!.body)?.();
    ask(master, answers, { stream: 1, follow: true, ...pullMax });
    expect(log.intos[2]!.length).toBe(1024); // a new one made
    ask(master, answers, { stream: 1, follow: true, ...pullMax });
    expect(log.intos[3]).toBeUndefined(); // and the short one was dropped, not kept
    master.stop();
  });

  it('in the order they came, each from where the one before left off, holding those that find nothing new', async () => {
    const clock = new SimClock();
    const log = new FakeLog();
    const master = newMaster(log, clock);
    const answers: Frame[] = [];
    ask(master, answers, { stream: 7, offset: 0 });
    for (let i = 0; i < 3; i++) ask(master, answers, { stream: 7, follow: true });
    expect(answers).toHaveLength(0);
    log.write(100); // more than one chunk (64 bytes): the first two held requests take it
    expect(answers.map((f) => [head(f).kind, head(f).offset, f.body.length, head(f).stream])).toEqual([
      ['data', 0, 64, 7],
      ['data', 64, 36, 7],
    ]);
    log.write(10);
    expect(answers.map((f) => head(f).offset)).toEqual([0, 64, 100]);
    // the fourth is still held; a fifth waits behind it; both time out empty, at the end of what was shipped
    ask(master, answers, { stream: 7, follow: true });
    await clock.advance(1000);
    expect(answers.slice(3).map((f) => [head(f).kind, head(f).offset, head(f).stream])).toEqual([
      ['none', 110, 7],
      ['none', 110, 7],
    ]);
    master.stop();
  });

  it('one that follows while an earlier one is held waits behind it, even with records to ship', () => {
    const clock = new SimClock();
    const log = new FakeLog();
    const master = newMaster(log, clock);
    const answers: Frame[] = [];
    ask(master, answers, { stream: 1, offset: 0 });
    ask(master, answers, { stream: 1, follow: true });
    log.write(10);
    expect(answers.map((f) => head(f).offset)).toEqual([0]);
    log.write(10);
    expect(answers.map((f) => head(f).offset)).toEqual([0, 10]);
    master.stop();
  });

  it('a request of a stream it does not follow is answered at once, as none on stream 0, and moves nothing', () => {
    const clock = new SimClock();
    const log = new FakeLog();
    log.write(50);
    const master = newMaster(log, clock);
    const answers: Frame[] = [];
    ask(master, answers, { stream: 3, follow: true, offset: 0 });
    expect(answers.map((f) => [head(f).kind, head(f).stream])).toEqual([['none', 0]]);
    ask(master, answers, { stream: 4, offset: 20, ackOffset: 20 });
    ask(master, answers, { stream: 3, follow: true, offset: 20, ackOffset: 20 });
    ask(master, answers, { stream: 4, follow: true, offset: 20, ackOffset: 20, waitMs: 0 });
    expect(answers.slice(1).map((f) => [head(f).kind, head(f).offset, head(f).stream])).toEqual([
      ['data', 20, 4],
      ['none', 20, 0],
      ['none', 50, 4],
    ]);
    master.stop();
  });

  it('a new stream answers the requests the old one still has held, and starts where the slave says', () => {
    const clock = new SimClock();
    const log = new FakeLog();
    log.write(30);
    const master = newMaster(log, clock);
    const old: Frame[] = [];
    ask(master, old, { stream: 1, offset: 30, ackOffset: 30 });
    ask(master, old, { stream: 1, follow: true, offset: 30, ackOffset: 30 });
    expect(old).toHaveLength(0);
    const fresh: Frame[] = [];
    ask(master, fresh, { stream: 2, offset: 10, ackOffset: 10 });
    expect(old.map((f) => head(f).kind)).toEqual(['none', 'none']);
    expect(fresh.map((f) => [head(f).offset, f.body.length, head(f).stream])).toEqual([[10, 20, 2]]);
    master.stop();
  });

  it('a restarted slave\'s first request answers what its earlier process left held, though its stream number is the same', () => {
    const clock = new SimClock();
    const log = new FakeLog();
    log.write(30);
    const master = newMaster(log, clock);
    const before: Frame[] = [];
    ask(master, before, { stream: 1, offset: 30, ackOffset: 30 });
    ask(master, before, { stream: 1, follow: true, offset: 30, ackOffset: 30 });
    const after: Frame[] = [];
    ask(master, after, { stream: 1, offset: 30, ackOffset: 30 });
    expect(before.map((f) => head(f).kind)).toEqual(['none', 'none']);
    expect(after).toHaveLength(0); // held: the new process's request, nothing new
    log.write(5);
    expect(after.map((f) => [head(f).offset, f.body.length])).toEqual([[30, 5]]);
    expect(before).toHaveLength(2);
    master.stop();
  });

  it('a lone request (no stream) reads from its own offset, as before streams', () => {
    const clock = new SimClock();
    const log = new FakeLog();
    log.write(30);
    const master = newMaster(log, clock);
    const answers: Frame[] = [];
    ask(master, answers, { offset: 5, ackOffset: 5 });
    ask(master, answers, { offset: 5, ackOffset: 5 });
    expect(answers.map((f) => [head(f).offset, f.body.length, head(f).stream])).toEqual([
      [5, 25, 0],
      [5, 25, 0],
    ]);
    master.stop();
  });
});

describe('a slave keeps several replication requests at its master', () => {
  /** A slave wired to a master in this process; `fail` may turn a request into a failure. */
  function pair(o: Partial<HaOptions> = {}, fail?: (n: number, frame: Frame) => boolean) {
    const clock = new SimClock();
    const masterLog = new FakeLog();
    const slaveLog = new FakeLog();
    const master = newMaster(masterLog, clock);
    let outstanding = 0;
    let most = 0;
    let sent = 0;
    const slave = new HaSlave({
      brokerName: 'b',
      brokerId: 1,
      address: 'broker.b.1',
      master: () => 'broker.b.0',
      repl: slaveLog,
      clock,
      logger,
      settings: settings(o),
      maxPayload: () => 1 << 20,
      offsets: () => ({ offsetTable: {} }),
      applyConfig: () => Promise.resolve(),
      request: (_to, frame) => {
        if (frame.code !== RequestCode.HA_PULL) return Promise.resolve(errorReply(frame, Status.SYSTEM_ERROR, 'not in this test'));
        if (fail?.(++sent, frame)) return Promise.reject(new Error('cut'));
        outstanding++;
        most = Math.max(most, outstanding);
        return new Promise<Frame>((resolve) => {
          const done = (f: Frame): void => {
            outstanding--;
            resolve(f);
          };
          const now = master.handlePull(frame, done);
          if (now) done(now);
        });
      },
    });
    /** `times` writes of `bytes(i)` bytes to the master's log, a millisecond apart. */
    const writes = async (times: number, bytes: (i: number) => number): Promise<void> => {
      for (let i = 0; i < times; i++) {
        masterLog.write(bytes(i));
        await clock.advance(1);
      }
    };
    const sameLogs = (): boolean => Buffer.from(slaveLog.bytes).equals(Buffer.from(masterLog.bytes));
    return { clock, masterLog, slaveLog, master, slave, writes, sameLogs, stats: () => ({ outstanding, most, sent }) };
  }

  it('keeps pullsInFlight at the master once it answers, and ends with the master\'s bytes, appended in order', async () => {
    const { clock, masterLog, slaveLog, master, slave, writes, sameLogs, stats } = pair({ pullsInFlight: 3 });
    slave.start();
    await clock.advance(0);
    expect(stats().outstanding).toBe(1); // the stream's first, held: nothing to ship yet
    await writes(20, (i) => 37 + i * 11);
    expect(stats().most).toBe(3);
    expect(stats().outstanding).toBe(3);
    expect(sameLogs()).toBe(true);
    // every chunk was at most maxChunkBytes: more chunks than writes, all in order (an out-of-order append fails)
    expect(slaveLog.appends).toBeGreaterThan(20);
    expect(master.status().slaves?.[0]?.ackOffset).toBe(masterLog.writeOffset);
    await slave.stop();
    master.stop();
  });

  it('with one in flight, asks again only after each reply', async () => {
    const { master, slave, writes, sameLogs, stats } = pair({ pullsInFlight: 1 });
    slave.start();
    await writes(5, () => 200);
    expect(stats().most).toBe(1);
    expect(sameLogs()).toBe(true);
    await slave.stop();
    master.stop();
  });

  it('a request that fails ends its stream: the next starts from the slave\'s log after a backoff, and replies of the old one are not appended', async () => {
    // the 4th request fails while those before it may still be held at the master
    const { clock, master, slave, writes, sameLogs, stats } = pair({ pullsInFlight: 4 }, (n) => n === 4);
    slave.start();
    await writes(10, () => 150);
    await clock.advance(3000);
    await writes(1, () => 40);
    expect(stats().sent).toBeGreaterThan(4);
    expect(sameLogs()).toBe(true);
    await slave.stop();
    master.stop();
  });

  it('stops without waiting for the master to answer the requests it holds', async () => {
    const { clock, master, slave, stats } = pair();
    slave.start();
    await clock.advance(0);
    expect(stats().outstanding).toBe(1);
    let stopped = false;
    const done = slave.stop().then(() => {
      stopped = true;
    });
    await clock.advance(0); // no time passes: the master still holds the request
    expect(stopped).toBe(true);
    expect(stats().outstanding).toBe(1);
    await done;
    master.stop();
  });

  it('pullsInFlight is a whole number from 1 to 64', () => {
    expect(settings().pullsInFlight).toBe(4);
    expect(() => settings({ pullsInFlight: 0 })).toThrow(HaConfigError);
    expect(() => settings({ pullsInFlight: 65 })).toThrow(/at most 64/);
  });
});
