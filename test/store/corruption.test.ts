import { SimClock, settle } from '../../core/clock.js';
import { numberedFileName } from '../../core/bytes.js';
import { RecordField } from '../../core/record-layout.js';
import { rootLogger } from '../../actors/runtime/environment.js';
import { SeededRandom } from '../../core/random.js';
import { memoryStorage, type MemoryStorage } from '../../store/backends/memory.js';
import { encodeMessageId } from '../../store/message-id.js';
import type { MessageStore } from '../../store/message-store.js';
import { openStore, type StoreMode } from '../../store/open-store.js';
import { LOG_SPAN } from '../../store/per-queue-store.js';

/**
 * One corrupt record in the middle of the commit log: recovery (after a crash) or the read (after a clean
 * stop) skips it and reports its byte range; every other record stays readable, no queue offset is re-used,
 * and a forged id costs a bounded read.
 */

const logger = rootLogger('silent');
const SEGMENT = 4096;

interface Sent {
  i: number;
  topic: string;
  queueId: number;
  queueOffset: number;
  commitLogOffset: number;
  size: number;
  msgId: string;
}

let mode: StoreMode = 'mixed';

/** The commit log segment file that holds offset `at` (in a per-queue store, in its log's directory). */
function segmentPath(at: number): string {
  const dir = mode === 'mixed' ? '/data/commitlog' : `/data/logs/${String(Math.floor(at / LOG_SPAN)).padStart(5, '0')}/commitlog`;
  return `${dir}/${numberedFileName(at - (at % SEGMENT))}`;
}

function open(mem: MemoryStorage, clock = new SimClock(1_700_000_000_000)): Promise<MessageStore> {
  return openStore({
    storeMode: mode,
    dir: '/data',
    storage: mem,
    clock,
    random: new SeededRandom(1),
    logger,
    storeHost: 'broker-a',
    flush: 'sync',
    segmentSize: SEGMENT,
    consumeQueueEntriesPerFile: 16,
    indexEntriesPerFile: 64,
  });
}

/** 80 messages over topics T (3 queues) and U (1 queue), one per put, so each is its own record. */
async function fill(store: MessageStore, from = 0, n = 80): Promise<Sent[]> {
  const out: Sent[] = [];
  for (let i = from; i < from + n; i++) {
    const topic = i % 4 === 3 ? 'U' : 'T';
    const queueId = topic === 'U' ? 0 : i % 3;
    const r = await store.putMessages([{ topic, queueId, body: Buffer.from(`message ${i} `.padEnd(120, '.')), keys: [`k${i}`], bornTimestamp: i, bornHost: 'p' }]);
    const x = r.results[0]!;
    out.push({ i, topic, queueId, queueOffset: x.queueOffset, commitLogOffset: x.commitLogOffset, size: x.size, msgId: x.msgId });
  }
  return out;
}

/** Flips one byte of the stored commit log at global offset `at` (durably). */
async function flip(mem: MemoryStorage, at: number, mask = 0x5a): Promise<void> {
  const seg = at - (at % SEGMENT);
  const f = mem.open(segmentPath(at));
  const b = f.read(at - seg, 1);
  f.write(at - seg, Uint8Array.of(b[0]! ^ mask));
  await f.flush();
  f.close();
}

/** Every message of every queue read from its start, as `message N` numbers, with the offsets seen. */
function readAll(store: MessageStore): { numbers: number[]; byQueue: Map<string, number[]> } {
  const numbers: number[] = [];
  const byQueue = new Map<string, number[]>();
  for (const [topic, queues] of [['T', 3], ['U', 1]] as const) {
    for (let q = 0; q < queues; q++) {
      const offsets: number[] = [];
      let offset = store.minOffset(topic, q);
      for (let round = 0; round < 100 && offset < store.maxOffset(topic, q); round++) {
        const got = store.getMessages({ topic, queueId: q, offset, maxCount: 8 });
        for (const m of got.messages) {
          numbers.push(Number(/message (\d+)/.exec(Buffer.from(m.body).toString())![1]));
          offsets.push(m.queueOffset);
        }
        offset = got.nextOffset;
      }
      byQueue.set(`${topic}#${q}`, offsets);
    }
  }
  return { numbers: numbers.sort((a, b) => a - b), byQueue };
}

const allBut = (n: number, lost: readonly number[]) => Array.from({ length: n }, (_, i) => i).filter((i) => !lost.includes(i));

describe.each(['mixed', 'per-queue'] as const)('a corrupt record in the middle of the commit log (%s store)', (storeMode) => {
  beforeEach(() => {
    mode = storeMode;
  });
  it('after a crash: recovery keeps every intact record after it, reports the lost range, and never re-uses its offsets', async () => {
    const mem = memoryStorage({ clock: new SimClock(), random: new SeededRandom(2) });
    const store = await open(mem);
    const sent = await fill(store);
    const hit = sent[41]!; // mid-log, several segments before the end
    // records follow it in a later segment of its log (in a per-queue store, the log of its queue)
    const nextSegment = hit.commitLogOffset - (hit.commitLogOffset % SEGMENT) + SEGMENT;
    expect(sent.some((s) => s.commitLogOffset >= nextSegment && Math.floor(s.commitLogOffset / LOG_SPAN) === Math.floor(hit.commitLogOffset / LOG_SPAN))).toBe(true);
    mem.crash();
    await settle();
    await flip(mem, hit.commitLogOffset + hit.size - 10); // a byte of its body

    const again = await open(mem);
    expect(readAll(again).numbers).toEqual(allBut(80, [41]));
    const ranges = again.corruptRanges();
    expect(ranges).toEqual([
      { from: hit.commitLogOffset, to: hit.commitLogOffset + hit.size, segment: numberedFileName(hit.commitLogOffset - (hit.commitLogOffset % SEGMENT)), reason: expect.stringMatching(/CRC/), foundBy: 'recovery' },
    ]);
    // the lost record's queue keeps its numbering: the records after it keep theirs, and new ones go after
    const queue = `${hit.topic}#${hit.queueId}`;
    const expectedOffsets = sent.filter((s) => `${s.topic}#${s.queueId}` === queue && s.i !== 41).map((s) => s.queueOffset);
    expect(readAll(again).byQueue.get(queue)).toEqual(expectedOffsets);
    const maxBefore = sent.filter((s) => `${s.topic}#${s.queueId}` === queue).length;
    expect(again.maxOffset(hit.topic, hit.queueId)).toBe(maxBefore);
    expect(again.lookupById(hit.msgId)).toBeUndefined();
    expect(again.lookupById(sent[42]!.msgId)?.body.length).toBe(120);
    const more = await fill(again, 80, 8);
    expect(more.find((s) => `${s.topic}#${s.queueId}` === queue)!.queueOffset).toBe(maxBefore);
    await again.close();

    // and after a clean restart it is still all there, the range not re-used
    const third = await open(mem);
    expect(readAll(third).numbers).toEqual(allBut(88, [41]));
    await third.close();
  });

  it('after a crash: the lost record was the last of its queue, and its queue offset is still not handed out again', async () => {
    const mem = memoryStorage({ clock: new SimClock(), random: new SeededRandom(3) });
    const clock = new SimClock(1_700_000_000_000);
    const store = await open(mem, clock);
    const sent = await fill(store, 0, 78);
    const lastU = sent.filter((s) => s.topic === 'U').at(-1)!; // records of T follow it (in the mixed log)
    expect(lastU.i).toBeLessThan(77);
    // a checkpoint says it was flushed: in a per-queue store it ends its log, and only this tells it from a torn tail
    await clock.advance(2000);
    mem.crash();
    await settle();
    await flip(mem, lastU.commitLogOffset + lastU.size - 5);
    const again = await open(mem);
    expect(readAll(again).numbers).toEqual(allBut(78, [lastU.i]));
    expect(again.maxOffset('U', 0)).toBe(lastU.queueOffset + 1);
    const r = await again.putMessages([{ topic: 'U', queueId: 0, body: Buffer.from('message 999'), bornTimestamp: 0, bornHost: 'p' }]);
    expect(r.results[0]!.queueOffset).toBe(lastU.queueOffset + 1);
    await again.close();
  });

  it('after a crash: a record whose size field is wrecked is stepped over to the next intact header', async () => {
    const mem = memoryStorage({ clock: new SimClock(), random: new SeededRandom(4) });
    const store = await open(mem);
    const sent = await fill(store);
    const hit = sent[30]!;
    mem.crash();
    await settle();
    await flip(mem, hit.commitLogOffset + 1, 0x7f); // its size now reads as millions of bytes
    const again = await open(mem);
    expect(readAll(again).numbers).toEqual(allBut(80, [30]));
    expect(again.corruptRanges().map((r) => [r.from, r.to])).toEqual([[hit.commitLogOffset, hit.commitLogOffset + hit.size]]);
    await again.close();
  });

  it('after a clean stop: the read finds it, skips it, and reports it; the others are delivered', async () => {
    const mem = memoryStorage({ clock: new SimClock(), random: new SeededRandom(5) });
    const store = await open(mem);
    const sent = await fill(store);
    await store.close();
    const hit = sent[50]!;
    await flip(mem, hit.commitLogOffset + hit.size - 20);
    const again = await open(mem);
    expect(again.corruptRanges()).toEqual([]);
    expect(readAll(again).numbers).toEqual(allBut(80, [50]));
    expect(again.corruptRanges()).toEqual([expect.objectContaining({ from: hit.commitLogOffset, to: hit.commitLogOffset + hit.size, foundBy: 'read' })]);
    expect(again.lookupById(hit.msgId)).toBeUndefined();
    await again.close();
  });

  it('a forged id pointing inside a record whose bytes read as a huge length finds nothing and reads no more than a header', async () => {
    const mem = memoryStorage({ clock: new SimClock(), random: new SeededRandom(6) });
    const store = await open(mem);
    const sent = await fill(store, 0, 20);
    const r = await store.putMessages([{ topic: 'T', queueId: 0, body: new Uint8Array(200), bornTimestamp: 0, bornHost: 'p' }]);
    await fill(store, 20, 20); // the forged one is not in the last segment
    await store.close();
    // its body now looks like a record header that claims its own offset and a size of 100 MiB
    const at = r.results[0]!.commitLogOffset + r.results[0]!.size - 200;
    const fake = new Uint8Array(RecordField.CommitLogOffset + 8);
    const v = new DataView(fake.buffer);
    v.setUint32(RecordField.Size, 100 * 1024 * 1024);
    v.setUint32(RecordField.Magic, 0xdaa320a7);
    v.setBigUint64(RecordField.CommitLogOffset, BigInt(at));
    const f = mem.open(segmentPath(at));
    f.write(at % SEGMENT, fake);
    await f.flush();
    f.close();
    // every read of a commit log file from here on is counted
    const reads: number[] = [];
    let counting = false;
    const openFile = mem.open.bind(mem);
    mem.open = (path, opts) => {
      const h = openFile(path, opts);
      if (!path.includes('commitlog')) return h;
      const read = h.read.bind(h);
      h.read = (pos, len) => {
        if (counting) reads.push(len);
        return read(pos, len);
      };
      return h;
    };
    const again = await open(mem);
    counting = true;
    for (const offset of [at, at + 1, sent[3]!.commitLogOffset + 7, 3 * LOG_SPAN - 7]) {
      expect(again.lookupById(encodeMessageId('broker-a', offset))).toBeUndefined();
    }
    expect(reads.length).toBeGreaterThan(0);
    expect(Math.max(...reads)).toBeLessThanOrEqual(RecordField.CommitLogOffset + 8);
    // a real id still reads, and a forged id is not corruption
    expect(again.lookupById(sent[3]!.msgId)?.keys).toEqual(['k3']);
    expect(again.corruptRanges()).toEqual([]);
    await again.close();
  });
});
