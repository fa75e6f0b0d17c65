import { SimClock, settle } from '../../core/clock.js';
import { rootLogger } from '../../actors/runtime/environment.js';
import { SeededRandom } from '../../core/random.js';
import { Status } from '../../core/status.js';
import { faultyStorage } from '../../store/backends/faulty.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { openMessageStore, type PutResult } from '../../store/message-store.js';

/** Sync flush: a batch whose fsync hangs past flushTimeoutMs is answered FLUSH_DISK_TIMEOUT, stored. */

const msg = (body: string) => ({ topic: 'T', queueId: 0, body: new TextEncoder().encode(body), bornTimestamp: 0, bornHost: 'p' });

async function setup() {
  const clock = new SimClock(1_000_000);
  const storage = faultyStorage(memoryStorage({ clock, random: new SeededRandom(1) }));
  const store = await openMessageStore({
    dir: '/data',
    storage,
    clock,
    random: new SeededRandom(2),
    logger: rootLogger('silent'),
    storeHost: 'broker-a',
    flush: 'sync',
    flushTimeoutMs: 1000,
    segmentSize: 64 * 1024,
  });
  const answers: Array<{ body: string; at: number; r: PutResult }> = [];
  const put = (body: string) => void store.putMessages([msg(body)]).then((r) => answers.push({ body, at: clock.now(), r }));
  return { clock, storage, store, answers, put };
}

describe('flush timeout (sync flush)', () => {
  it('a batch whose fsync hangs is answered FLUSH_DISK_TIMEOUT after flushTimeoutMs, with its offsets; it is stored and served once flushed', async () => {
    const { clock, storage, store, answers, put } = await setup();
    storage.hangFlushes();
    put('a');
    await settle();
    await clock.advance(999);
    expect(answers).toEqual([]);
    put('b'); // written at +999: its own deadline
    await clock.advance(1);
    expect(answers.map((a) => [a.body, a.r.status, a.at - 1_000_000])).toEqual([['a', Status.FLUSH_DISK_TIMEOUT, 1000]]);
    expect(answers[0]!.r.message).toMatch(/not flushed to disk within 1000 ms/);
    expect(answers[0]!.r.results.map((x) => x.queueOffset)).toEqual([0]);
    expect(answers[0]!.r.results[0]!.msgId).toMatch(/^[0-9A-F]+$/);
    await clock.advance(998);
    expect(answers).toHaveLength(1);
    await clock.advance(1);
    expect(answers.map((a) => [a.body, a.r.status, a.at - 1_000_000])).toEqual([
      ['a', Status.FLUSH_DISK_TIMEOUT, 1000],
      ['b', Status.FLUSH_DISK_TIMEOUT, 1999],
    ]);
    expect(store.getMessages({ topic: 'T', queueId: 0, offset: 0, maxCount: 10 }).messages).toHaveLength(0); // not flushed: not served
    // the disk answers again: the flush completes, nothing is answered twice, the messages are served
    storage.heal();
    await settle();
    await clock.advance(10);
    expect(answers).toHaveLength(2);
    expect(store.getMessages({ topic: 'T', queueId: 0, offset: 0, maxCount: 10 }).messages.map((m) => new TextDecoder().decode(m.body))).toEqual(['a', 'b']);
    put('c');
    await settle();
    expect(answers[2]).toMatchObject({ body: 'c', r: { status: Status.OK } });
    await store.close();
  });

  it('flushes that keep up never time out', async () => {
    const { clock, store, answers, put } = await setup();
    for (let i = 0; i < 20; i++) {
      put(`m${i}`);
      await settle();
      await clock.advance(300);
    }
    await clock.advance(5000);
    expect(answers).toHaveLength(20);
    expect(answers.every((a) => a.r.status === Status.OK)).toBe(true);
    await store.close();
  });
});
