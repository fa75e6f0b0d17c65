import fc from 'fast-check';
import { SimClock } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { CHECKPOINT_SIZE, checkpointDelayMs, decodeCheckpoint, encodeCheckpoint, readCheckpoint, writeCheckpoint, type Checkpoint } from '../../store/checkpoint.js';

const mem = () => memoryStorage({ clock: new SimClock(), random: new SeededRandom(9) });
const cpArb: fc.Arbitrary<Checkpoint> = fc.record({
  commitLogFlushed: fc.maxSafeNat(),
  consumeQueueFlushed: fc.maxSafeNat(),
  indexFlushed: fc.maxSafeNat(),
  timestamp: fc.maxSafeNat(),
  clean: fc.boolean(),
});

describe('checkpoint', () => {
  it('round-trips and detects any byte change', () => {
    fc.assert(
      fc.property(cpArb, fc.nat(CHECKPOINT_SIZE - 1), fc.integer({ min: 1, max: 255 }), (cp, i, x) => {
        const buf = encodeCheckpoint(cp);
        expect(decodeCheckpoint(buf)).toEqual(cp);
        buf[i] ^= x;
        expect(() => decodeCheckpoint(buf)).toThrow(expect.objectContaining({ code: 'ECORRUPT' }));
      }),
      { numRuns: 300 },
    );
  });

  it('is absent, written atomically, survives a crash, and a torn/corrupt file is a typed error', async () => {
    const fs = mem();
    expect(readCheckpoint(fs, 'store/checkpoint')).toBeUndefined();
    const cp = { commitLogFlushed: 100, consumeQueueFlushed: 80, indexFlushed: 60, timestamp: 1_700_000_000_000, clean: false };
    await writeCheckpoint(fs, 'store/checkpoint', cp);
    const next = { ...cp, commitLogFlushed: 200, clean: true };
    const p = writeCheckpoint(fs, 'store/checkpoint', next);
    const q = writeCheckpoint(fs, 'store/checkpoint', { ...next, timestamp: 5 });
    await Promise.all([p, q]);
    fs.crash({ tear: true });
    expect(readCheckpoint(fs, 'store/checkpoint')).toEqual({ ...next, timestamp: 5 });
    expect(fs.list('store')).toEqual(['checkpoint']);
    fs.open('store/checkpoint').write(3, new Uint8Array([0xff]));
    expect(() => readCheckpoint(fs, 'store/checkpoint')).toThrow(/ECORRUPT/);
    fs.open('store/checkpoint').truncate(10);
    expect(() => readCheckpoint(fs, 'store/checkpoint')).toThrow(/ECORRUPT/);
  });
});

describe('checkpointDelayMs', () => {
  it('is the interval, stretched by 1 ms per consume queue the last checkpoint flushed, at most 10 s', () => {
    expect(checkpointDelayMs(1000, 0)).toBe(1000);
    expect(checkpointDelayMs(1000, 999)).toBe(1000);
    expect(checkpointDelayMs(1000, 8000)).toBe(8000);
    expect(checkpointDelayMs(1000, 50_000)).toBe(10_000);
    expect(checkpointDelayMs(20, 5)).toBe(20);
    expect(checkpointDelayMs(30_000, 8000)).toBe(30_000); // never below the interval asked for
  });
});
