import { SimClock, settle } from '../../../../core/clock.js';
import { SeededRandom } from '../../../../core/random.js';
import { Status } from '../../../../core/status.js';
import { rootLogger } from '../../../../actors/runtime/environment.js';
import { memoryStorage, type MemoryStorage } from '../../../../store/backends/memory.js';
import { openStorePort } from '../../../../actors/broker/store-adapter.js';
import type { StorePort } from '../../../../actors/broker/store-port.js';
import { slowFlushStorage } from '../../../support/storage-wrappers.js';
import { DelayScheduler, DELAY_OFFSETS_FILE, loadDelayOffsets } from '../../../../actors/broker/schedule/delay-scheduler.js';
import { toScheduled } from '../../../../actors/broker/put-message.js';

/**
 * The delay scheduler over a real store with async flush, through a power loss (`crash()` of the memory
 * disk): its persisted offset never runs ahead of the write backs the commit log has flushed, so a power loss
 * right after a write back loses the copy, not the message (it is written back again after the restart);
 * and a reader's queue offsets are never handed out again (nothing is served before its flush).
 */

const logger = rootLogger('silent');
const FLUSH_MS = 500;
const LEVELS = [1000, 5000];

/**
 * A store whose flushes each take FLUSH_MS once it is open: a write back's flush starts at once and ends FLUSH_MS
 * later, the window in which the power loss strikes (an instant disk would leave none).
 */
async function open(mem: MemoryStorage, clock: SimClock): Promise<StorePort> {
  const gate = { slow: false };
  const storage = slowFlushStorage(mem, clock, FLUSH_MS, gate);
  const store = await openStorePort({ dir: '/data', storage, clock, random: new SeededRandom(1), logger, storeHost: 'broker-a', flush: 'async', flushIntervalMs: FLUSH_MS, segmentSize: 64 * 1024 });
  gate.slow = true;
  // closing flushes, with nobody moving the clock
  const close = store.close.bind(store);
  return Object.assign(store, { close: () => ((gate.slow = false), close()) });
}

function scheduler(store: StorePort, mem: MemoryStorage, clock: SimClock): DelayScheduler {
  return new DelayScheduler({ store, storage: mem, storeDir: '/data', clock, logger, levels: LEVELS });
}

const body = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

async function bodiesOf(store: StorePort, topic: string, queueId: number): Promise<string[]> {
  const r = await store.getMessages({ topic, queueId, offset: 0, maxCount: 100 });
  return r.messages.map((m) => text(m.body));
}

describe('delay scheduler: a power loss of an async-flush broker', () => {
  it('loses no delayed message it wrote back just before the crash: the offset persists only after the flush', async () => {
    const mem = memoryStorage({ clock: new SimClock(), random: new SeededRandom(2) });
    let clock = new SimClock(1_700_000_000_000);
    let store = await open(mem, clock);
    let delay = scheduler(store, mem, clock);
    delay.start();
    const put = await store.putMessages(['a', 'b'].map((s) => toScheduled({ topic: 'T', queueId: 0, body: body(s), bornTimestamp: 0, bornHost: 'p' }, 1, LEVELS.length)));
    expect(put.status).toBe(Status.OK);
    await clock.advance(FLUSH_MS); // the scheduled messages are flushed, then indexed
    expect(store.maxOffset('SCHEDULE_TOPIC_XXXX', 0)).toBe(2);
    // due at 1 s: written back; the write back is acknowledged (async) but not flushed yet
    await clock.advance(LEVELS[0]! - FLUSH_MS);
    await settle();
    expect(delay.offsetOf(1)).toBe(2);
    expect(delay.durableOffsetOf(1)).toBe(0);
    expect(loadDelayOffsets(mem, `/data/${DELAY_OFFSETS_FILE}`)?.offsetTable['1'] ?? 0).toBe(0);
    // not served before its flush: no reader has seen queue offsets of T a power loss can take back
    expect(store.maxOffset('T', 0)).toBe(0);

    mem.crash({ tear: false });
    clock = new SimClock(1_700_000_100_000);
    store = await open(mem, clock);
    expect(store.maxOffset('T', 0)).toBe(0); // the copies were lost...
    delay = scheduler(store, mem, clock);
    delay.start();
    await clock.advance(FLUSH_MS);
    await settle();
    expect(await bodiesOf(store, 'T', 0)).toEqual(['a', 'b']); // ...the messages were not: written back again
    expect(delay.durableOffsetOf(1)).toBe(2);
    expect(loadDelayOffsets(mem, `/data/${DELAY_OFFSETS_FILE}`)?.offsetTable['1']).toBe(2);

    // once flushed and persisted, a second power loss neither loses nor repeats them
    mem.crash({ tear: false });
    clock = new SimClock(1_700_000_200_000);
    store = await open(mem, clock);
    delay = scheduler(store, mem, clock);
    delay.start();
    await clock.advance(2 * FLUSH_MS);
    expect(await bodiesOf(store, 'T', 0)).toEqual(['a', 'b']);
    await delay.stop();
    await store.close();
  });
});
