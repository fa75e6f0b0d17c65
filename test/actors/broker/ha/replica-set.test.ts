import fc from 'fast-check';
import { acksNeeded, batchSatisfied, inSyncSet, reported, type ReplicaState, type SyncRule } from '../../../../actors/broker/ha/replica-set.js';

const rule: SyncRule = { minInSyncReplicas: 2, allAckInSyncSet: false, maxTimeSlaveNotCatchupMs: 1000 };

function slave(id: number, ackOffset: number, caughtUpAt: number): ReplicaState {
  return { id, address: `broker.b.${id}`, ackOffset, writeOffset: ackOffset, lastContact: caughtUpAt, caughtUpAt, shippedAtWrite: Infinity };
}

describe('the in-sync set', () => {
  it('holds the master and the slaves that caught up within maxTimeSlaveNotCatchupMs', () => {
    const rs = [slave(1, 100, 5000), slave(2, 50, 3000)];
    expect(inSyncSet(0, rs, 5500, rule)).toEqual([0, 1]);
    expect(inSyncSet(0, rs, 4000, rule)).toEqual([0, 1, 2]);
    expect(inSyncSet(0, [], 0, rule)).toEqual([0]);
  });

  it('a report catches a slave up when it acknowledges what the master had written when it last shipped (or its write offset)', () => {
    const first = reported(undefined, { id: 1, address: 'a', ackOffset: 0, writeOffset: 0 }, 500, 10);
    expect(first.caughtUpAt).toBe(-Infinity); // behind a master that holds 500 bytes
    const shipped = { ...first, shippedAtWrite: 500 };
    expect(reported(shipped, { id: 1, address: 'a', ackOffset: 400, writeOffset: 400 }, 900, 20).caughtUpAt).toBe(-Infinity);
    expect(reported(shipped, { id: 1, address: 'a', ackOffset: 500, writeOffset: 500 }, 900, 30).caughtUpAt).toBe(30);
    // nothing new at the master: at its write offset is caught up
    expect(reported(first, { id: 1, address: 'a', ackOffset: 500, writeOffset: 500 }, 500, 40).caughtUpAt).toBe(40);
  });
});

describe('acknowledgement of a sync batch', () => {
  it('needs minInSyncReplicas holders, or every member with allAckInSyncSet, counting members only', () => {
    const replicas = new Map([
      [1, slave(1, 100, 0)],
      [2, slave(2, 10, 0)],
    ]);
    expect(acksNeeded([0, 1, 2], rule)).toBe(2);
    expect(batchSatisfied(100, [0, 1, 2], [0, 1, 2], 0, replicas, rule)).toBe(true);
    expect(batchSatisfied(101, [0, 1, 2], [0, 1, 2], 0, replicas, rule)).toBe(false);
    expect(batchSatisfied(100, [0, 1, 2], [0, 1, 2], 0, replicas, { ...rule, allAckInSyncSet: true })).toBe(false);
    // slave 1 acknowledged, but it is not a member: its word does not count
    expect(batchSatisfied(100, [0, 2], [0, 2], 0, replicas, rule)).toBe(false);
  });

  it('property: a batch counts as acknowledged only when both the set it was written under and the current one hold it enough (apache/rocketmq#5663)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        (acks, inOld, inNow, end, min, all) => {
          const r: SyncRule = { minInSyncReplicas: min, allAckInSyncSet: all, maxTimeSlaveNotCatchupMs: 1000 };
          const replicas = new Map(acks.map((a, i) => [i + 1, slave(i + 1, a, 0)] as const));
          const ids = acks.map((_, i) => i + 1);
          const old = [0, ...ids.filter((_, i) => inOld[i])];
          const now = [0, ...ids.filter((_, i) => inNow[i])];
          const holds = (set: number[]): number => set.filter((id) => id === 0 || replicas.get(id)!.ackOffset >= end).length;
          const need = (set: number[]): number => (all ? set.length : min);
          expect(batchSatisfied(end, old, now, 0, replicas, r)).toBe(holds(old) >= need(old) && holds(now) >= need(now));
          // never acknowledged on fewer holders among the current members than the rule asks
          if (batchSatisfied(end, old, now, 0, replicas, r)) expect(holds(now)).toBeGreaterThanOrEqual(Math.min(need(now), now.length));
        },
      ),
    );
  });
});
