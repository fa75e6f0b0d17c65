import fc from 'fast-check';
import { QueueLockTable } from '../../../actors/broker/queue-locks.js';
import { Status } from '../../../core/status.js';

describe('QueueLockTable', () => {
  const q = (topic: string, queueId: number) => ({ topic, queueId });

  it('grants free queues, renews its own, refuses queues another live client holds, and frees expired ones', () => {
    let now = 1000;
    const t = new QueueLockTable(() => now, 100);
    expect(t.lock('g', 'a', [q('T', 0), q('T', 1)])).toEqual([q('T', 0), q('T', 1)]);
    expect(t.lock('g', 'b', [q('T', 1), q('T', 2)])).toEqual([q('T', 2)]);
    expect(t.holder('g', q('T', 1))).toBe('a');
    // another group has its own locks
    expect(t.lock('other', 'b', [q('T', 1)])).toEqual([q('T', 1)]);
    now += 60;
    expect(t.lock('g', 'a', [q('T', 0)])).toEqual([q('T', 0)]); // renewed until 1160
    now += 50; // 1110: T/1 of a expired at 1100, T/0 renewed
    expect(t.holder('g', q('T', 1))).toBeUndefined();
    expect(t.lock('g', 'b', [q('T', 0), q('T', 1)])).toEqual([q('T', 1)]);
    expect(t.holder('g', q('T', 1))).toBe('b');
  });

  it('unlock releases only what the client holds', () => {
    const t = new QueueLockTable(() => 0, 100);
    t.lock('g', 'a', [q('T', 0)]);
    t.lock('g', 'b', [q('T', 1)]);
    expect(t.unlock('g', 'a', [q('T', 0), q('T', 1)])).toBe(1);
    expect(t.holder('g', q('T', 1))).toBe('b');
    expect(t.lock('g', 'c', [q('T', 0)])).toEqual([q('T', 0)]);
  });

  it('is bounded: expired entries are pruned, then lock requests are refused with SYSTEM_BUSY', () => {
    let now = 0;
    const t = new QueueLockTable(() => now, 10, 2);
    t.lock('g', 'a', [q('T', 0), q('T', 1)]);
    expect(() => t.lock('g', 'a', [q('T', 2)])).toThrow(expect.objectContaining({ status: Status.SYSTEM_BUSY }));
    now = 20;
    expect(t.lock('g', 'a', [q('T', 2)])).toEqual([q('T', 2)]);
    expect(t.size).toBe(1);
    expect(() => new QueueLockTable(() => 0, 0)).toThrow(RangeError);
  });

  it('never has two live holders of one queue (random lock/unlock/time steps)', () => {
    const op = fc.record({
      kind: fc.constantFrom('lock', 'unlock', 'tick'),
      client: fc.constantFrom('a', 'b', 'c'),
      queues: fc.uniqueArray(fc.integer({ min: 0, max: 4 }), { maxLength: 5 }),
      dt: fc.integer({ min: 0, max: 60 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        let now = 0;
        const lease = 50;
        const t = new QueueLockTable(() => now, lease);
        // model: queue -> { client, expiresAt }
        const model = new Map<number, { client: string; expiresAt: number }>();
        for (const o of ops) {
          const qs = o.queues.map((i) => q('T', i));
          if (o.kind === 'tick') now += o.dt;
          else if (o.kind === 'unlock') {
            t.unlock('g', o.client, qs);
            for (const i of o.queues) if (model.get(i)?.client === o.client) model.delete(i);
          } else {
            const got = new Set(t.lock('g', o.client, qs).map((x) => x.queueId));
            for (const i of o.queues) {
              const m = model.get(i);
              const free = !m || m.client === o.client || m.expiresAt <= now;
              expect(got.has(i)).toBe(free);
              if (free) model.set(i, { client: o.client, expiresAt: now + lease });
            }
          }
          for (let i = 0; i < 5; i++) {
            const m = model.get(i);
            expect(t.holder('g', q('T', i))).toBe(m && m.expiresAt > now ? m.client : undefined);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
