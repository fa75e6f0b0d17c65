import fc from 'fast-check';
import { DEFAULT_SLAVE_READ_LAG_BYTES, suggestBrokerId, type ReadPlace } from '../../../../actors/broker/ha/read-suggestion.js';

const place = (p: Partial<ReadPlace>): ReadPlace => ({
  brokerId: 0,
  inSync: () => [0, 2, 1],
  writeOffset: 10_000,
  firstCommitLogOffset: 9_000,
  slaveReadLagBytes: 1_000,
  ...p,
});

describe('suggestWhichBrokerId', () => {
  it('defaults to 256 MiB', () => {
    expect(DEFAULT_SLAVE_READ_LAG_BYTES).toBe(256 * 1024 * 1024);
  });

  it('a master suggests itself for a read within the threshold, and the lowest in-sync slave for one beyond it', () => {
    expect(suggestBrokerId(place({ firstCommitLogOffset: 9_000 }))).toBe(0); // exactly the threshold
    expect(suggestBrokerId(place({ firstCommitLogOffset: 8_999 }))).toBe(1);
    expect(suggestBrokerId(place({ firstCommitLogOffset: 0, inSync: () => [0, 3] }))).toBe(3);
  });

  it('a master without an in-sync slave keeps every reader, and a read that returned nothing is caught up', () => {
    expect(suggestBrokerId(place({ firstCommitLogOffset: 0, inSync: () => [0] }))).toBe(0);
    expect(suggestBrokerId(place({ firstCommitLogOffset: 0, inSync: () => [] }))).toBe(0);
    expect(suggestBrokerId(place({ firstCommitLogOffset: undefined }))).toBe(0);
  });

  it('a slave keeps a lagging reader and sends one within the threshold back to the master', () => {
    expect(suggestBrokerId(place({ brokerId: 2, inSync: () => [], firstCommitLogOffset: 0 }))).toBe(2);
    expect(suggestBrokerId(place({ brokerId: 2, inSync: () => [], firstCommitLogOffset: 9_500 }))).toBe(0);
    expect(suggestBrokerId(place({ brokerId: 2, inSync: () => [], firstCommitLogOffset: undefined }))).toBe(0);
  });

  it('asks the master for its in-sync set only when the read lags', () => {
    let asked = 0;
    const inSync = (): number[] => {
      asked++;
      return [0, 1];
    };
    suggestBrokerId(place({ inSync, firstCommitLogOffset: 9_999 }));
    expect(asked).toBe(0);
    suggestBrokerId(place({ inSync, firstCommitLogOffset: 1 }));
    expect(asked).toBe(1);
  });

  it('sends a reader to the master or to a broker serving it, never elsewhere', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.uniqueArray(fc.integer({ min: 0, max: 4 })), fc.nat(5000), fc.option(fc.nat(5000), { nil: undefined }), fc.nat(3000), (brokerId, set, write, first, lag) => {
        const s = suggestBrokerId({ brokerId, inSync: () => set, writeOffset: write, firstCommitLogOffset: first, slaveReadLagBytes: lag });
        const lagging = first !== undefined && write - first > lag;
        if (!lagging) return s === 0;
        if (brokerId !== 0) return s === brokerId;
        const slaves = set.filter((x) => x > 0);
        return s === (slaves.length === 0 ? 0 : Math.min(...slaves));
      }),
    );
  });
});
