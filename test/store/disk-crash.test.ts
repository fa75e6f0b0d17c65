import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { rootLogger } from '../../actors/runtime/environment.js';
import { SeededRandom } from '../../core/random.js';
import { diskStorage } from '../../store/backends/disk.js';
import type { MessageStore } from '../../store/message-store.js';
import { MessageProperty } from '../../core/message.js';
import { RecordLayout } from '../../core/record-layout.js';
import { decodeRecord } from '../../store/record.js';
import { appenderFixture, appenderScript } from '../support/store-appender-process.js';
import {
  WORKLOAD_QUEUES,
  WORKLOAD_SEGMENT_SIZE,
  WORKLOAD_STORE_DIR,
  WORKLOAD_TOPICS,
  bodyOf,
  openWorkloadStore,
  placeOf,
  seqOfUniqKey,
  type AckedMessage,
} from '../support/store-workload.js';

const logger = rootLogger('silent');
const KILLS = 4;

const fx = appenderFixture('actormq-disk-crash-');
const startAppender = fx.startAppender;

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

/** Every record in the commit log segment files below `writeOffset`, read straight from the disk. */
function scanSegments(storeRoot: string, writeOffset: number): Array<{ seq: number; topic: string; queueId: number; queueOffset: number; commitLogOffset: number }> {
  const dir = join(storeRoot, WORKLOAD_STORE_DIR, 'commitlog');
  const out: Array<{ seq: number; topic: string; queueId: number; queueOffset: number; commitLogOffset: number }> = [];
  for (const name of readdirSync(dir).sort()) {
    const start = Number(name);
    const buf = new Uint8Array(readFileSync(join(dir, name)));
    if (start >= writeOffset) {
      // A kill between creating the next segment and writing into it leaves it empty: the store writes there next.
      if (start === writeOffset && buf.every((b) => b === 0)) continue;
      throw new Error(`segment ${name} starts at or past the write offset ${writeOffset} and holds data`);
    }
    const end = Math.min(buf.length, writeOffset - start);
    let pos = 0;
    while (pos < end) {
      if (WORKLOAD_SEGMENT_SIZE - pos < RecordLayout.EndOfSegmentMin) break;
      const d = decodeRecord(buf, pos);
      if (d.kind === 'end-of-segment') break;
      if (d.kind !== 'record') throw new Error(`commit log ${name} at ${pos} (below the write offset ${writeOffset}): ${d.kind}`);
      const r = d.record;
      if (r.commitLogOffset !== start + pos) throw new Error(`record at ${start + pos} says it is at ${r.commitLogOffset}`);
      const seq = seqOfUniqKey(r.properties[MessageProperty.UNIQ_KEY]);
      if (seq === undefined || !same(r.body, bodyOf(seq))) throw new Error(`record at ${start + pos} is not a workload message`);
      out.push({ seq, topic: r.topic, queueId: r.queueId, queueOffset: r.queueOffset, commitLogOffset: r.commitLogOffset });
      pos += d.size;
    }
  }
  return out;
}

/**
 * Checks a reopened store: every consume queue reads from its min to its max without a gap, holding only
 * workload messages, intact and each once; every acknowledged message is where its acknowledgement said
 * (queue offset, commit log offset, id), and a sample of them is found by id too; the consume queues hold
 * exactly the records of the commit log. Returns the highest sequence number stored.
 */
function verify(store: MessageStore, acked: ReadonlyMap<number, AckedMessage>, rnd: SeededRandom): number {
  const stored = new Map<number, { queueOffset: number; commitLogOffset: number; msgId: string }>();
  const inQueues = new Map<number, number>(); // commit log offset -> seq
  let maxSeq = -1;
  for (const topic of WORKLOAD_TOPICS) {
    for (let q = 0; q < WORKLOAD_QUEUES; q++) {
      const max = store.maxOffset(topic, q);
      let offset = store.minOffset(topic, q);
      while (offset < max) {
        const got = store.getMessages({ topic, queueId: q, offset, maxCount: 256 });
        // Plain checks (not expect) in the loop: thousands of messages.
        if (got.status !== 'FOUND') throw new Error(`${topic}/${q}@${offset} (max ${max}): ${got.status}`);
        for (const m of got.messages) {
          const seq = seqOfUniqKey(m.properties[MessageProperty.UNIQ_KEY]);
          if (m.queueOffset !== offset) throw new Error(`${topic}/${q}: queue offset ${m.queueOffset}, expected ${offset}`);
          if (seq === undefined || !same(m.body, bodyOf(seq))) throw new Error(`${topic}/${q}@${offset}: not an intact workload message`);
          const place = placeOf(seq);
          if (place.topic !== topic || place.queueId !== q) throw new Error(`seq ${seq} found in ${topic}/${q}, sent to ${place.topic}/${place.queueId}`);
          if (stored.has(seq)) throw new Error(`seq ${seq} stored twice`);
          stored.set(seq, { queueOffset: m.queueOffset, commitLogOffset: m.commitLogOffset, msgId: m.msgId });
          inQueues.set(m.commitLogOffset, seq);
          maxSeq = Math.max(maxSeq, seq);
          offset++;
        }
        if (got.nextOffset !== offset) throw new Error(`${topic}/${q}: nextOffset ${got.nextOffset}, expected ${offset}`);
      }
    }
  }

  const all = [...acked.values()];
  for (const a of all) {
    const s = stored.get(a.seq);
    if (!s) throw new Error(`acknowledged seq ${a.seq} (${a.topic}/${a.queueId}@${a.queueOffset}) is lost`);
    if (s.queueOffset !== a.queueOffset || s.commitLogOffset !== a.commitLogOffset || s.msgId !== a.msgId) {
      throw new Error(`acknowledged seq ${a.seq} moved: acked ${JSON.stringify(a)}, stored ${JSON.stringify(s)}`);
    }
  }
  for (let i = 0; i < Math.min(200, all.length); i++) {
    const a = all[rnd.int(all.length)]!;
    const byId = store.lookupById(a.msgId);
    if (!byId || byId.queueOffset !== a.queueOffset || byId.topic !== a.topic || !same(byId.body, bodyOf(a.seq))) throw new Error(`acknowledged seq ${a.seq} not found by id ${a.msgId}`);
  }

  const pos = store.positions();
  if (pos.dispatched !== pos.writeOffset) throw new Error(`dispatched ${pos.dispatched} != write offset ${pos.writeOffset}`);
  const records = scanSegments(fx.root, pos.writeOffset);
  if (records.length !== inQueues.size) throw new Error(`commit log holds ${records.length} records, consume queues ${inQueues.size}`);
  for (const r of records) {
    if (inQueues.get(r.commitLogOffset) !== r.seq) throw new Error(`commit log record seq ${r.seq} at ${r.commitLogOffset} is not in its consume queue`);
  }
  return maxSeq;
}

describe('store crash recovery on disk (SIGKILL of a writing process)', () => {
  it('the build holds the child script', () => {
    // Fails (never skips) when the build is missing, with a message saying to run it.
    expect(appenderScript()).toMatch(/store-appender\.js$/);
  });

  it(`keeps every acknowledged message byte for byte across ${KILLS} kills at random moments; queues agree with the log; the lock is taken over`, async () => {
    const seed = Number(process.env.DISK_CRASH_SEED ?? Date.now() % 1_000_000);
    const rnd = new SeededRandom(seed);
    const acked = new Map<number, AckedMessage>();
    let nextSeq = 0;
    let segmentsSeen = 0;
    // kills that left the active segment segment-long (warmed: a hole after the data) for recovery to cut
    let longTails = 0;
    try {
      for (let kill = 1; kill <= KILLS; kill++) {
        const run = startAppender(fx.root, nextSeq, 10_000);
        const pid = await run.ready;
        await run.firstAck;
        const delay = 50 + rnd.int(351);
        await new Promise((r) => setTimeout(r, delay));
        run.kill('SIGKILL');
        const exit = await run.exit;
        expect(exit.signal).toBe('SIGKILL');
        for (const a of run.acked) acked.set(a.seq, a);
        // Messages written but not acknowledged may be stored: never reuse a number the child may have taken
        // (at most one batch per writer is in flight, far fewer than 1000 messages).
        nextSeq = Math.max(nextSeq, ...run.acked.map((a) => a.seq + 1000));
        // The dead child's lock file is still there: the next open must take it over.
        expect(readFileSync(join(fx.root, WORKLOAD_STORE_DIR, 'lock'), 'utf8').trim()).toBe(String(pid));
        const logDir = join(fx.root, WORKLOAD_STORE_DIR, 'commitlog');
        const active = readdirSync(logDir).sort().pop()!;
        if (statSync(join(logDir, active)).size === WORKLOAD_SEGMENT_SIZE) longTails++;
        if (kill === 2) continue; // this time the next child recovers the crashed store (and its lock) itself
        const store = await openWorkloadStore(diskStorage(fx.root), logger);
        try {
          nextSeq = Math.max(nextSeq, verify(store, acked, rnd) + 1);
          segmentsSeen = readdirSync(join(fx.root, WORKLOAD_STORE_DIR, 'commitlog')).length;
        } finally {
          await store.close();
        }
      }
    } catch (err) {
      throw new Error(`seed ${seed} (rerun with DISK_CRASH_SEED=${seed}), ${acked.size} acknowledged: ${(err as Error).message}`, { cause: err });
    }
    expect(acked.size).toBeGreaterThan(KILLS);
    expect(segmentsSeen).toBeGreaterThan(1); // the commit log rolled
    expect(longTails).toBeGreaterThan(0);
  }, 60_000);
});
