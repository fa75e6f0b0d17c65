import fc from 'fast-check';
import { DEFAULT_CONTROLLER_SETTINGS as cfg, emptyGroup, onAlterSyncState, onHeartbeat, type GroupState } from '../../../actors/protocol/ha-controller.js';

const hb = (s: GroupState, id: number, now: number, writeOffset = 0, epoch = s.epoch) =>
  onHeartbeat(s, { brokerName: 'b', brokerId: id, address: `broker.b.${id}`, epoch, writeOffset }, now, cfg);

describe('the HA controller rules', () => {
  it('elects the first broker of a new group, renews its lease, and elects a caught-up slave only once the lease ran out', () => {
    let r = hb(emptyGroup('b'), 1, 0);
    expect(r.answer).toMatchObject({ epoch: 1, masterId: 1, leader: true });
    r = hb(r.state, 2, 100);
    expect(r.answer).toMatchObject({ epoch: 1, masterId: 1, leader: false, masterAddress: 'broker.b.1' });
    const grown = onAlterSyncState(r.state, { brokerName: 'b', masterId: 1, epoch: 1, syncEpoch: r.state.syncEpoch, inSync: [1, 2] });
    expect(grown.ok).toBe(true);
    let s = grown.state;
    s = hb(s, 1, 2000, 500).state; // renewed to 5000
    s = hb(s, 2, 5200, 500).state; // within lease + skew: no election
    expect(s.epoch).toBe(1);
    r = hb(s, 2, 5600, 500);
    expect(r.elected).toBe(2);
    expect(r.answer).toMatchObject({ epoch: 2, masterId: 2, leader: true, inSync: [2] });
    // the old master comes back: it is told the new master
    expect(hb(r.state, 1, 5700, 700, 1).answer).toMatchObject({ epoch: 2, masterId: 2, leader: false });
  });

  it('a master that restarted (a heartbeat from another process) is not confirmed in its old epoch: the in-sync broker holding more is elected once it reports', () => {
    let s = hb(emptyGroup('b'), 1, 0).state;
    s = hb(s, 2, 10, 0).state;
    s = onAlterSyncState(s, { brokerName: 'b', masterId: 1, epoch: 1, syncEpoch: s.syncEpoch, inSync: [1, 2] }).state;
    s = hb(s, 2, 500, 900).state; // the slave holds 900 bytes
    // heard from its process, a late heartbeat in epoch 0 of the same process changes nothing
    s = onHeartbeat(s, { brokerName: 'b', brokerId: 1, address: 'broker.b.1', epoch: 1, writeOffset: 900, session: 'first' }, 400, cfg).state;
    expect(onHeartbeat(s, { brokerName: 'b', brokerId: 1, address: 'broker.b.1', epoch: 0, writeOffset: 900, session: 'first' }, 450, cfg).elected).toBeUndefined();
    // the master restarted within its lease with 700 (it lost an unflushed tail): a new process; the election
    // waits for the others' next reports, which cover what they hold since
    const r = onHeartbeat(s, { brokerName: 'b', brokerId: 1, address: 'broker.b.1', epoch: 0, writeOffset: 700, session: 'second' }, 600, cfg);
    expect(r.elected).toBeUndefined();
    expect(r.answer).toMatchObject({ epoch: 1, masterId: 1, leader: false });
    const e = hb(r.state, 2, 700, 900);
    expect(e.elected).toBe(2);
    expect(e.answer).toMatchObject({ epoch: 2, masterId: 2, leader: true });
  });

  it('a restarted master is passed over for another live in-sync broker, even one whose last report shows less; alone in the set it is elected again', () => {
    let s = onHeartbeat(emptyGroup('b'), { brokerName: 'b', brokerId: 1, address: 'broker.b.1', epoch: 0, writeOffset: 0, session: 'a' }, 0, cfg).state;
    s = hb(s, 2, 10, 0).state;
    s = onAlterSyncState(s, { brokerName: 'b', masterId: 1, epoch: 1, syncEpoch: s.syncEpoch, inSync: [1, 2] }).state;
    s = hb(s, 2, 500, 800).state; // heard a while ago: it holds more by now
    const r = onHeartbeat(s, { brokerName: 'b', brokerId: 1, address: 'broker.b.1', epoch: 0, writeOffset: 900, session: 'b' }, 600, cfg);
    expect(r.elected).toBeUndefined(); // broker 2's report predates the restart: its next one decides
    expect(hb(r.state, 2, 650, 950).elected).toBe(2);
    let alone = onHeartbeat(emptyGroup('b'), { brokerName: 'b', brokerId: 1, address: 'broker.b.1', epoch: 0, writeOffset: 0, session: 'a' }, 0, cfg).state;
    alone = hb(alone, 2, 10, 0).state; // alive, but not in sync
    expect(onHeartbeat(alone, { brokerName: 'b', brokerId: 1, address: 'broker.b.1', epoch: 0, writeOffset: 0, session: 'b' }, 50, cfg).elected).toBe(1);
  });

  it('an election after a lease waits for every live in-sync candidate to report after it ended: a stale write offset does not decide', () => {
    let s = hb(emptyGroup('b'), 1, 0).state;
    s = hb(s, 2, 10, 0).state;
    s = hb(s, 3, 10, 0).state;
    s = onAlterSyncState(s, { brokerName: 'b', masterId: 1, epoch: 1, syncEpoch: s.syncEpoch, inSync: [1, 2, 3] }).state;
    s = hb(s, 3, 2500, 500).state; // before the lease ran out: 3 has since received more
    const first = hb(s, 2, 3600, 600); // lease 3000 + skew 500 passed; 3 has not reported since
    expect(first.elected).toBeUndefined();
    const second = hb(first.state, 3, 3700, 900);
    expect(second.elected).toBe(3);
  });

  it('never elects outside the in-sync set (no unclean election)', () => {
    let s = hb(emptyGroup('b'), 1, 0).state;
    s = hb(s, 2, 10, 0).state;
    const r = hb(s, 2, 10_000, 999);
    expect(r.elected).toBeUndefined();
    expect(r.answer.masterId).toBeNull();
  });

  it('refuses a set change from an old master or an old set version', () => {
    let s = hb(emptyGroup('b'), 1, 0).state;
    s = hb(s, 2, 10).state;
    expect(onAlterSyncState(s, { brokerName: 'b', masterId: 2, epoch: 1, syncEpoch: s.syncEpoch, inSync: [2] }).ok).toBe(false);
    expect(onAlterSyncState(s, { brokerName: 'b', masterId: 1, epoch: 1, syncEpoch: s.syncEpoch - 1, inSync: [1, 2] }).ok).toBe(false);
    expect(onAlterSyncState(s, { brokerName: 'b', masterId: 1, epoch: 1, syncEpoch: s.syncEpoch, inSync: [2] }).ok).toBe(false);
  });

  it('property: epochs only grow, each elected master was in sync (once a set exists), and no election happens while a lease can still be held', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('hb' as const), id: fc.integer({ min: 1, max: 3 }), dt: fc.integer({ min: 0, max: 2500 }), off: fc.integer({ min: 0, max: 1000 }), stale: fc.boolean() }),
      fc.record({ kind: fc.constant('alter' as const), ids: fc.subarray([1, 2, 3]) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        let s = emptyGroup('b');
        let now = 0;
        for (const o of ops) {
          if (o.kind === 'alter') {
            if (s.masterId === null) continue;
            const r = onAlterSyncState(s, { brokerName: 'b', masterId: s.masterId, epoch: s.epoch, syncEpoch: s.syncEpoch, inSync: [s.masterId, ...o.ids] });
            s = r.state;
            continue;
          }
          now += o.dt;
          const before = s;
          const r = hb(s, o.id, now, o.off, o.stale ? Math.max(0, s.epoch - 1) : s.epoch);
          expect(r.state.epoch).toBeGreaterThanOrEqual(before.epoch);
          if (r.elected !== undefined) {
            expect(r.state.epoch).toBe(before.epoch + 1);
            if (before.inSync.length > 0) expect(before.inSync).toContain(r.elected);
            // the old master's own view of its lease ended (send time + leaseMs <= leaseUntil) before this election,
            // unless the master itself reported epoch 0: it restarted, and its lease ended with the old process
            if (before.masterId !== null) expect(now).toBeGreaterThan(before.leaseUntil + cfg.maxClockSkewMs);
          } else if (before.masterId !== null && r.state.masterId !== null) {
            expect(r.state.masterId).toBe(before.masterId);
          }
          s = r.state;
        }
      }),
      { numRuns: 300 },
    );
  });
});
