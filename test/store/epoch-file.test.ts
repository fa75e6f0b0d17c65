import fc from 'fast-check';
import { SimClock } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { appendEpoch, consistentPoint, epochAt, loadEpochs, nextEpochStart, saveEpochs, truncateEpochs, type EpochEntry } from '../../store/epoch-file.js';

describe('epoch entries', () => {
  const e = (epoch: number, startOffset: number): EpochEntry => ({ epoch, startOffset });

  it('finds where a returning master must cut: the end of the newest common epoch, the lower end', () => {
    // old master wrote epoch 1 to 500 then kept writing to 700 while isolated; the new master took epoch 2 at 450
    const oldMaster = [e(1, 0)];
    const newMaster = [e(1, 0), e(2, 450)];
    expect(consistentPoint(oldMaster, 700, newMaster, 900)).toBe(450);
    // a slave that is simply behind cuts nothing
    expect(consistentPoint([e(1, 0)], 300, newMaster, 900)).toBe(300);
    // same epoch number but another start: not common
    expect(consistentPoint([e(1, 0), e(2, 460)], 800, newMaster, 900)).toBe(450);
    expect(consistentPoint([e(3, 0)], 800, newMaster, 900)).toBe(0);
    expect(consistentPoint([], 0, newMaster, 900)).toBe(0);
  });

  it('property: the cut point is never past either log, and both logs agree below it (same epoch for every offset)', () => {
    const history = fc.array(fc.record({ who: fc.integer({ min: 0, max: 1 }), bytes: fc.integer({ min: 1, max: 100 }), newEpoch: fc.boolean() }), { maxLength: 30 });
    fc.assert(
      fc.property(history, (steps) => {
        // two replicas that share a prefix and then each write in epochs of their own (the divergence)
        const shared = 200;
        const a: EpochEntry[] = [e(1, 0)];
        const b: EpochEntry[] = [e(1, 0)];
        const end = [shared, shared];
        let epoch = 1;
        for (const s of steps) {
          const log = s.who === 0 ? a : b;
          if (s.newEpoch) {
            epoch++;
            log.push(e(epoch, end[s.who]!));
          }
          end[s.who]! += s.bytes;
        }
        const p = consistentPoint(a, end[0]!, b, end[1]!);
        expect(p).toBeLessThanOrEqual(Math.min(end[0]!, end[1]!));
        expect(p).toBeGreaterThanOrEqual(Math.min(shared, end[0]!, end[1]!));
        for (const off of [0, Math.floor(p / 2), p - 1].filter((x) => x >= 0 && x < p)) expect(epochAt(a, off)).toEqual(epochAt(b, off));
      }),
    );
  });

  it('appends, truncates, finds the next epoch start, and refuses going back', () => {
    let list = appendEpoch([], 1, 0);
    list = appendEpoch(list, 1, 99); // same epoch: nothing
    list = appendEpoch(list, 4, 100);
    expect(list).toEqual([e(1, 0), e(4, 100)]);
    expect(() => appendEpoch(list, 3, 200)).toThrow(RangeError);
    expect(nextEpochStart(list, 50)).toBe(100);
    expect(nextEpochStart(list, 100)).toBeUndefined();
    expect(truncateEpochs(list, 100)).toEqual([e(1, 0)]);
  });

  it('saves atomically and loads without entries past the log end', async () => {
    const clock = new SimClock();
    const storage = memoryStorage({ clock, random: new SeededRandom(1) });
    storage.mkdir('/s');
    storage.mkdir('/s/config');
    expect(loadEpochs(storage, '/s', 0)).toEqual([]);
    await saveEpochs(storage, '/s', [e(1, 0), e(2, 500), e(3, 900)]);
    expect(loadEpochs(storage, '/s', 900)).toEqual([e(1, 0), e(2, 500), e(3, 900)]);
    expect(loadEpochs(storage, '/s', 600)).toEqual([e(1, 0), e(2, 500)]);
  });
});
