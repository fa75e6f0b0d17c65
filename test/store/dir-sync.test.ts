import { SimClock, settle } from '../../core/clock.js';
import { rootLogger } from '../../actors/runtime/environment.js';
import { SeededRandom } from '../../core/random.js';
import type { StorageBackend } from '../../store/backend.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { createDirs, parentDir } from '../../store/dirty-files.js';
import { openMessageStore } from '../../store/message-store.js';

/** New directories (store, commit log, consume queues, index) are made durable: their parents are fsynced. */

/** A memory backend that records every directory flush, in order. */
function spy(): { storage: StorageBackend; flushedDirs: string[]; clock: SimClock } {
  const clock = new SimClock(1_000_000);
  const mem = memoryStorage({ clock, random: new SeededRandom(1) });
  const flushedDirs: string[] = [];
  const storage: StorageBackend = Object.create(mem) as StorageBackend;
  storage.flushDir = (dir) => {
    flushedDirs.push(dir);
    return mem.flushDir(dir);
  };
  return { storage, flushedDirs, clock };
}

describe('directory durability', () => {
  it('parentDir and createDirs: the parents of the directories created, deepest first', () => {
    expect(parentDir('a/b/c')).toBe('a/b');
    expect(parentDir('a')).toBe('');
    expect(parentDir('/a')).toBe('/');
    expect(parentDir('/a/b/')).toBe('/a');
    const { storage } = spy();
    storage.mkdir('data');
    expect(createDirs(storage, 'data/consumequeue/T/3')).toEqual(['data/consumequeue/T', 'data/consumequeue', 'data']);
    expect(storage.exists('data/consumequeue/T/3')).toBe(true);
    expect(createDirs(storage, 'data/consumequeue/T/4')).toEqual(['data/consumequeue/T']);
    expect(createDirs(storage, 'data/consumequeue/T/4')).toEqual([]);
  });

  it('a new store flushes the parents of its new directories; a new queue flushes its parents with its first flush, once', async () => {
    const { storage, flushedDirs, clock } = spy();
    const store = await openMessageStore({
      dir: 'data',
      storage,
      clock,
      random: new SeededRandom(2),
      logger: rootLogger('silent'),
      storeHost: 'b',
      flush: 'sync',
      checkpointIntervalMs: 10,
    });
    // the store directory (in the root), the commit log and the index (in the store directory)
    expect(flushedDirs).toEqual(expect.arrayContaining(['', 'data', 'data/index']));
    expect(flushedDirs.indexOf('data/index')).toBeLessThan(flushedDirs.lastIndexOf('data'));
    flushedDirs.length = 0;

    const put = (topic: string, queueId: number) => store.putMessages([{ topic, queueId, body: new Uint8Array(4), bornTimestamp: 0, bornHost: 'p' }]);
    await put('T', 3);
    await settle();
    await clock.advance(20); // the checkpoint flushes the consume queues and the index
    const q = ['data/consumequeue/T/3', 'data/consumequeue/T', 'data/consumequeue', 'data'].map((d) => flushedDirs.indexOf(d));
    expect(q.every((i) => i >= 0)).toBe(true);
    expect(q).toEqual([...q].sort((a, b) => a - b)); // the queue's directory first, then each parent up
    flushedDirs.length = 0;

    await put('T', 3);
    await settle();
    await clock.advance(20);
    expect(flushedDirs.filter((d) => d.startsWith('data/consumequeue'))).toEqual([]); // nothing new: no directory flush
    await put('T', 1);
    await settle();
    await clock.advance(20);
    expect(flushedDirs).toEqual(expect.arrayContaining(['data/consumequeue/T/1', 'data/consumequeue/T']));
    expect(flushedDirs).not.toContain('data/consumequeue');
    await store.close();
  });
});
