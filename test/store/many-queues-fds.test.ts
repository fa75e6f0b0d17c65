import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootLogger } from '../../actors/runtime/environment.js';
import { RealClock } from '../../core/clock.js';
import { CryptoRandom } from '../../core/random.js';
import { Status } from '../../core/status.js';
import { diskStorage } from '../../store/backends/disk.js';
import { DEFAULT_MAX_DIR_FLUSHES, DEFAULT_MAX_FILE_FLUSHES } from '../../store/cached-storage.js';
import type { MessageStore } from '../../store/message-store.js';
import { openStore, type StoreMode } from '../../store/open-store.js';

/** Descriptors this process holds now. */
const openFds = (): number => readdirSync('/proc/self/fd').length;

const LIMIT = 16;
const TOPICS = 63;
const QUEUES = 8; // 504 queues
/**
 * Over the limit, by design (store/cached-storage.ts): handles retiring (at most the limit), files under a flush
 * (their handles cannot close), directories under a flush; and the lock and checkpoint files, readdir's own.
 */
const SLACK = LIMIT + DEFAULT_MAX_FILE_FLUSHES + DEFAULT_MAX_DIR_FLUSHES + 8;

const bodyOf = (t: number, q: number, i: number): Buffer => Buffer.from(`t${t}-q${q}-m${i}`.padEnd(40, '.'));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'actormq-fds-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function open(storeMode: StoreMode): Promise<MessageStore> {
  return openStore({
    storeMode,
    dir: join(dir, 'store'),
    storage: diskStorage(),
    clock: new RealClock(),
    random: new CryptoRandom(),
    logger: rootLogger('silent'),
    storeHost: '127.0.0.1:10911',
    flush: 'sync',
    segmentSize: 64 * 1024,
    checkpointIntervalMs: 50,
    maxOpenFiles: LIMIT,
  });
}

describe.each(['mixed', 'per-queue'] as const)('a %s store with many queues and a small maxOpenFiles, on disk', (mode) => {
  it('writes and reads 504 queues with at most the limit (plus directory flushes) open, before and after a restart', async () => {
    const base = openFds();
    let most = 0;
    const sample = (): void => {
      most = Math.max(most, openFds() - base);
    };
    let store = await open(mode);
    for (let round = 0; round < 2; round++) {
      for (let t = 0; t < TOPICS; t++) {
        for (let q = 0; q < QUEUES; q++) {
          const r = await store.putMessages([{ topic: `T${t}`, queueId: q, body: bodyOf(t, q, round), keys: [`k${t}-${q}-${round}`], bornTimestamp: 1, bornHost: '10.0.0.1:1' }]);
          expect(r.status).toBe(Status.OK);
          sample();
        }
      }
    }
    // indexed: every queue holds its two messages
    await new Promise((r) => setTimeout(r, 200));
    const readAll = (s: MessageStore): void => {
      for (let t = 0; t < TOPICS; t++) {
        for (let q = 0; q < QUEUES; q++) {
          const got = s.getMessages({ topic: `T${t}`, queueId: q, offset: 0, maxCount: 10 });
          expect(got.status).toBe('FOUND');
          expect(got.messages.map((m) => Buffer.from(m.body).toString())).toEqual([0, 1].map((i) => bodyOf(t, q, i).toString()));
          sample();
        }
      }
      expect(s.lookupByKey('T7', 'k7-3-1', 4).map((m) => Buffer.from(m.body).toString())).toEqual([bodyOf(7, 3, 1).toString()]);
    };
    readAll(store);
    const stats = store.fileHandles();
    expect(stats.open).toBeLessThanOrEqual(LIMIT);
    expect(stats.peak).toBeLessThanOrEqual(LIMIT + SLACK);
    expect(stats.reopened).toBeGreaterThan(0);
    await store.close();
    sample();
    expect(openFds()).toBeLessThanOrEqual(base);

    store = await open(mode); // recovery opens every queue: through the cache too
    sample();
    readAll(store);
    expect(store.fileHandles().peak).toBeLessThanOrEqual(LIMIT + SLACK);
    await store.close();
    expect(openFds()).toBeLessThanOrEqual(base);
    expect(most).toBeLessThanOrEqual(LIMIT + SLACK);
  }, 60_000);
});
