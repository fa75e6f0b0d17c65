import { expiredSegments } from '../../store/retention.js';

describe('expiredSegments', () => {
  const segs = [
    { start: 0, end: 100, mtimeMs: 10 },
    { start: 100, end: 200, mtimeMs: 20 },
    { start: 200, end: 300, mtimeMs: 30 },
    { start: 300, end: 350, mtimeMs: 5 },
  ];
  const base = { segmentSize: 100, retentionMs: 100 };

  it('deletes old segments from the oldest, never the active (last) one', () => {
    expect(expiredSegments(segs, { ...base, dispatched: 350, now: 1000 })).toEqual([0, 100, 200]);
  });
  it('stops at the first segment still young enough', () => {
    expect(expiredSegments(segs, { ...base, dispatched: 350, now: 115 })).toEqual([0]);
  });
  it('never deletes data the dispatcher has not indexed', () => {
    expect(expiredSegments(segs, { ...base, dispatched: 150, now: 1000 })).toEqual([0]);
  });
});
