import { settle } from '../../core/clock.js';
import { rootLogger } from '../../actors/runtime/environment.js';
import { SeededRandom } from '../../core/random.js';
import { Status } from '../../core/status.js';
import { openMessageStore, type MessageStore } from '../../store/message-store.js';
import { memorySetup, textMsg } from '../support/memory-store.js';

/**
 * A backlog of committed records let go at once (here a confirm limit lifted, as when a controlled master's
 * in-sync set changes) is indexed a run at a time with a turn of the event loop between runs, so that requests,
 * heartbeats and lease renewals are not held up until the whole backlog is indexed; it all ends up indexed once,
 * in order, and so does what is written meanwhile.
 */

const logger = rootLogger('silent');
const dec = new TextDecoder();

function bodies(store: MessageStore): string[] {
  const r = store.getMessages({ topic: 'T', queueId: 0, offset: 0, maxCount: 1000 });
  return r.messages.map((m) => dec.decode(m.body));
}

describe('indexing a backlog', () => {
  it('indexes one run per turn of the event loop, and in the end every record once, in order', async () => {
    const { clock, mem } = memorySetup();
    const store = await openMessageStore({ dir: '/data', storage: mem, clock, random: new SeededRandom(9), logger, storeHost: '10.0.0.1:10911', flush: 'sync', dispatchBytesPerRun: 2048 });
    store.limitDispatch(0);
    const sent: string[] = [];
    for (let b = 0; b < 10; b++) {
      const batch = Array.from({ length: 10 }, (_, k) => `m${b * 10 + k}`);
      expect((await store.putMessages(batch.map((body) => textMsg('T', 0, body)))).status).toBe(Status.OK);
      sent.push(...batch);
    }
    await settle();
    expect(bodies(store)).toEqual([]);

    store.limitDispatch(Infinity);
    await settle(); // every microtask has run, and the event loop has had a turn
    const first = bodies(store);
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(sent.length);
    expect(first).toEqual(sent.slice(0, first.length));

    // written while the backlog waits for its next run: indexed after it
    expect((await store.putMessages([textMsg('T', 0, 'late')])).status).toBe(Status.OK);
    await clock.advance(0);
    expect(bodies(store)).toEqual([...sent, 'late']);
    await store.close();
  });
});
