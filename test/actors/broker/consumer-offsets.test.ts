import fc from 'fast-check';
import { ConsumerOffsets, loadConsumerOffsets, saveConsumerOffsets } from '../../../actors/broker/consumer-offsets.js';
import { Status } from '../../../core/status.js';
import { SimClock } from '../../../core/clock.js';
import { SeededRandom } from '../../../core/random.js';
import { memoryStorage } from '../../../store/backends/memory.js';

describe('consumer offsets', () => {
  it('commits in batches, queries, lists a group, forgets a deleted topic', () => {
    const o = new ConsumerOffsets();
    o.commit('g', [
      { topic: 't', queueId: 1, offset: 5 },
      { topic: 't', queueId: 0, offset: 3 },
      { topic: '%RETRY%g', queueId: 0, offset: 1 },
    ]);
    o.commit('h', [{ topic: 't', queueId: 0, offset: 9 }]);
    expect(o.query('g', 't', 1)).toBe(5);
    expect(o.query('g', 't', 2)).toBeUndefined();
    expect(o.ofGroup('g')).toEqual([
      { topic: '%RETRY%g', queueId: 0, offset: 1 },
      { topic: 't', queueId: 0, offset: 3 },
      { topic: 't', queueId: 1, offset: 5 },
    ]);
    expect(o.groupsOf('t')).toEqual(['g', 'h']);
    o.deleteTopic('t');
    expect(o.query('h', 't', 0)).toBeUndefined();
    expect(o.query('g', '%RETRY%g', 0)).toBe(1);
  });

  it('refuses a bad batch whole', () => {
    const o = new ConsumerOffsets();
    expect(() => o.commit('g', [{ topic: 't', queueId: 0, offset: 1 }, { topic: 't', queueId: -1, offset: 1 }])).toThrow(expect.objectContaining({ status: Status.INVALID_ARGUMENT }));
    expect(o.query('g', 't', 0)).toBeUndefined();
    expect(o.version).toBe(0);
  });

  it('keeps every committed offset across persist and reload', async () => {
    const clock = new SimClock();
    const storage = memoryStorage({ clock, random: new SeededRandom(2) });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ g: fc.constantFrom('g1', 'g2'), topic: fc.constantFrom('a', 'b', '%RETRY%g1'), queueId: fc.nat(7), offset: fc.nat(1e9) }), { maxLength: 40 }),
        async (commits) => {
          const o = new ConsumerOffsets();
          for (const c of commits) o.commit(c.g, [{ topic: c.topic, queueId: c.queueId, offset: c.offset }]);
          await saveConsumerOffsets(storage, '/s', o);
          const back = loadConsumerOffsets(storage, '/s');
          for (const c of commits) expect(back.query(c.g, c.topic, c.queueId)).toBe(o.query(c.g, c.topic, c.queueId));
          expect(back.toFile()).toEqual(o.toFile());
        },
      ),
      { numRuns: 50 },
    );
  });
});
