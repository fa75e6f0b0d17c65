import fc from 'fast-check';
import { RingBuffer } from '../../core/ring-buffer.js';

describe('RingBuffer', () => {
  it('keeps the newest `capacity` items in order and counts what it dropped', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.oneof(fc.integer(), fc.constant('drain' as const)), { maxLength: 200 }), (capacity, ops) => {
        const ring = new RingBuffer<number>(capacity);
        let model: number[] = [];
        for (const op of ops) {
          if (op === 'drain') {
            expect(ring.drain()).toEqual(model);
            model = [];
            continue;
          }
          const kept = ring.push(op);
          model.push(op);
          expect(kept).toBe(model.length <= capacity);
          if (model.length > capacity) model.shift();
          expect(ring.size).toBe(model.length);
        }
        expect(ring.drain()).toEqual(model);
        expect(ring.size).toBe(0);
      }),
    );
  });

  it('refuses a capacity below one', () => {
    expect(() => new RingBuffer(0)).toThrow(/capacity/);
  });
});
