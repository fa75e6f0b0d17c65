import fc from 'fast-check';
import { SimClock, settle } from '../../core/clock.js';
import { rootLogger } from '../../actors/runtime/environment.js';
import { SeededRandom } from '../../core/random.js';
import { Status } from '../../core/status.js';
import { faultyStorage, type FaultyStorage } from '../../store/backends/faulty.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { openMessageStore, type MessageStore, type PutMessage, type StoreHealth } from '../../store/message-store.js';

/**
 * A consume queue or index write that fails (ENOSPC, EIO) pauses indexing: the store refuses writes and says
 * why, tries the same run again until it succeeds, and then every acknowledged message is in its queue once, in
 * order, and found by its key once; nothing is skipped and nothing is indexed twice.
 */

const logger = rootLogger('silent');
const enc = new TextEncoder();
const dec = new TextDecoder();
const RETRY_MS = 500;
/** The store's checkpoint interval (default): consume queue entries held back are written by then. */
const CHECKPOINT_MS = 1000;
const inQueues = (path: string): boolean => path.includes('/consumequeue/');
const inIndex = (path: string): boolean => path.includes('/index/');

async function setup(flush: 'sync' | 'async' = 'sync'): Promise<{ clock: SimClock; disk: FaultyStorage; store: MessageStore; health: StoreHealth[] }> {
  const clock = new SimClock();
  const disk = faultyStorage(memoryStorage({ clock, random: new SeededRandom(5) }));
  const store = await openMessageStore({
    dir: '/data',
    storage: disk,
    clock,
    random: new SeededRandom(9),
    logger,
    storeHost: '10.0.0.1:10911',
    flush,
    segmentSize: 64 * 1024,
    consumeQueueEntriesPerFile: 16,
    indexEntriesPerFile: 32,
    dispatchRetryMs: RETRY_MS,
  });
  const health: StoreHealth[] = [];
  store.health$.subscribe((h) => health.push(h));
  return { clock, disk, store, health };
}

const msg = (queueId: number, body: string, keys: string[] = [body]): PutMessage => ({ topic: 'T', queueId, body: enc.encode(body), keys, bornTimestamp: 1, bornHost: 'p' });

/** Every body of queue `queueId`, in queue order (blank entries would show as missing numbers). */
function bodies(store: MessageStore, queueId: number): string[] {
  const out: string[] = [];
  for (let offset = 0, round = 0; round < 100; round++) {
    const r = store.getMessages({ topic: 'T', queueId, offset, maxCount: 64 });
    if (r.status !== 'FOUND') break;
    for (const m of r.messages) out.push(dec.decode(m.body));
    offset = r.nextOffset;
  }
  return out;
}

describe('disk faults in consume queue and index writes', () => {
  it('ENOSPC in a consume queue write: writes are refused with DISK_FULL saying why, and all resumes once space returns', async () => {
    const { clock, disk, store, health } = await setup();
    expect((await store.putMessages([msg(0, 'a0'), msg(1, 'b0')])).status).toBe(Status.OK);
    await settle();
    disk.failWrites('ENOSPC', { where: inQueues });
    // already in the commit log when indexing fails: acknowledged, and consumable once indexing resumes
    expect((await store.putMessages([msg(0, 'a1'), msg(1, 'b1')])).status).toBe(Status.OK);
    await settle();
    // held back in memory (consumable already) until the checkpoint writes them out, and that write fails
    expect(bodies(store, 0)).toEqual(['a0', 'a1']);
    await clock.advance(CHECKPOINT_MS);
    expect(store.health()).toMatchObject({ state: 'paused', status: Status.DISK_FULL });
    expect(store.health()).toMatchObject({ reason: expect.stringMatching(/indexing paused.*ENOSPC/) });
    const refused = await store.putMessages([msg(0, 'never')]);
    expect(refused).toMatchObject({ status: Status.DISK_FULL, results: [] });
    expect(refused.message).toMatch(/takes no writes now: indexing paused/);
    // still paused while the disk stays full, however often it is retried
    for (let i = 0; i < 3; i++) await clock.advance(RETRY_MS);
    expect(store.health().state).toBe('paused');
    expect(disk.counters.failedWrites).toBeGreaterThanOrEqual(4);

    disk.heal();
    await clock.advance(RETRY_MS);
    await settle();
    expect(store.health()).toEqual({ state: 'ok' });
    expect(health.map((h) => h.state)).toEqual(['ok', 'paused', 'ok']);
    expect((await store.putMessages([msg(0, 'a2'), msg(1, 'b2')])).status).toBe(Status.OK);
    await settle();
    expect(bodies(store, 0)).toEqual(['a0', 'a1', 'a2']);
    expect(bodies(store, 1)).toEqual(['b0', 'b1', 'b2']);
    for (const k of ['a0', 'a1', 'a2', 'b0', 'b1', 'b2']) expect(store.lookupByKey('T', k, 5).map((m) => dec.decode(m.body))).toEqual([k]);
    expect(store.positions().dispatched).toBe(store.positions().writeOffset);
    await store.close();
  });

  it('closing while paused leaves no timer behind and hears of no change after; a failure that is not ENOSPC or EIO stops indexing for good', async () => {
    const { clock, disk, store, health } = await setup();
    disk.failWrites('ENOSPC', { where: inQueues });
    expect((await store.putMessages([msg(0, 'a')])).status).toBe(Status.OK);
    await clock.advance(CHECKPOINT_MS);
    expect(store.health().state).toBe('paused');
    await store.close();
    const seen = health.length;
    await clock.advance(10 * RETRY_MS);
    expect(clock.pending).toBe(0);
    expect(health).toHaveLength(seen);

    // a failure that does not pass by itself (not ENOSPC or EIO) stops indexing until a restart
    const other = await setup();
    other.disk.failWrites('EOTHER', { where: inIndex });
    expect((await other.store.putMessages([msg(0, 'b')])).status).toBe(Status.OK);
    await settle();
    expect(other.store.health()).toMatchObject({ state: 'failed', status: Status.STORE_FAILED });
    other.disk.heal();
    await other.clock.advance(10 * RETRY_MS);
    expect(other.store.health().state).toBe('failed');
    expect((await other.store.putMessages([msg(0, 'c')])).status).toBe(Status.STORE_FAILED);
    await other.store.close();
  });

  it('EIO in an index write that spans files: after healing every key is found, and each look-up names its message once (async flush)', async () => {
    const { clock, disk, store } = await setup('async');
    // 32 index entries per file: 10 keys of the first batch; the second batch's record of 30 keys fills the first
    // file and goes on in a second, and a write of the index fails on the way
    // async flush indexes a write once its flush (every 500 ms) covers it
    expect((await store.putMessages([msg(0, 'first', ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9'])])).status).toBe(Status.OK);
    await clock.advance(500);
    disk.failWrites('EIO', { where: inIndex, after: 1 });
    const many = Array.from({ length: 30 }, (_, i) => `many-${i}`);
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
    expect((await store.putMessages([msg(0, 'many', many), ...keys.map((k) => msg(0, k, [k]))])).status).toBe(Status.OK);
    await clock.advance(500);
    expect(store.health()).toMatchObject({ state: 'paused', status: Status.STORE_FAILED });
    expect((await store.putMessages([msg(0, 'no')])).status).toBe(Status.STORE_FAILED);
    disk.heal();
    await clock.advance(RETRY_MS);
    await settle();
    expect(store.health().state).toBe('ok');
    for (const k of keys) expect(store.lookupByKey('T', k, 5).map((m) => dec.decode(m.body))).toEqual([k]);
    for (const k of [...many, 'k3']) expect(store.lookupByKey('T', k, 5)).toHaveLength(1);
    expect(bodies(store, 0)).toEqual(['first', 'many', ...keys]);
    await store.close();
  });

  it('property: under random write faults in queues and index, what was acknowledged ends up indexed once and in order', async () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), queues: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 12 }), keys: fc.integer({ min: 0, max: 6 }) }),
      fc.record({ kind: fc.constant('fault' as const), code: fc.constantFrom('ENOSPC' as const, 'EIO' as const), where: fc.constantFrom('queues', 'index', 'both'), after: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ kind: fc.constant('heal' as const) }),
      fc.record({ kind: fc.constant('tick' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), fc.constantFrom('sync' as const, 'async' as const), async (steps, flush) => {
        const { clock, disk, store } = await setup(flush);
        const acked = new Map<number, string[]>([[0, []], [1, []], [2, []]]);
        const keyCount = new Map<string, number>();
        let n = 0;
        for (const s of steps) {
          if (s.kind === 'put') {
            const batch = s.queues.map((q) => {
              const body = `m${n++}`;
              return msg(q, body, Array.from({ length: s.keys }, (_, k) => `${body}-k${k}`));
            });
            const r = await store.putMessages(batch);
            if (r.status === Status.OK) {
              for (const m of batch) {
                acked.get(m.queueId)!.push(dec.decode(m.body));
                keyCount.set(dec.decode(m.body), s.keys);
              }
            }
            else expect([Status.DISK_FULL, Status.STORE_FAILED]).toContain(r.status);
          } else if (s.kind === 'fault') {
            const where = s.where === 'queues' ? inQueues : s.where === 'index' ? inIndex : (p: string) => inQueues(p) || inIndex(p);
            disk.failWrites(s.code, { where, after: s.after });
          } else if (s.kind === 'heal') {
            disk.heal();
          } else {
            await clock.advance(RETRY_MS);
          }
          await settle();
        }
        disk.heal();
        await clock.advance(RETRY_MS);
        await settle();
        expect(store.health().state).toBe('ok');
        for (const [q, want] of acked) expect(bodies(store, q)).toEqual(want);
        // every key of every acknowledged message is found (a look-up names each message once)
        for (const [body, keys] of keyCount) {
          for (let k = 0; k < keys; k++) expect(store.lookupByKey('T', `${body}-k${k}`, 5).map((m) => dec.decode(m.body))).toEqual([body]);
        }
        await store.close();
      }),
      { numRuns: 40, seed: 2026 },
    );
  });
});
