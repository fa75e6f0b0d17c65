import fc from 'fast-check';
import pino from 'pino';
import { RealClock, SimClock, type Clock } from '../../../../core/clock.js';
import { SeededRandom } from '../../../../core/random.js';
import { groupKey, kvController, KvControllerError } from '../../../../actors/broker/ha/kv-controller.js';
import type { ControllerPort } from '../../../../actors/broker/ha/controller-port.js';
import type { ControllerSettings, GroupState, HeartbeatAnswer, HeartbeatReport } from '../../../../actors/protocol/ha-controller.js';
import { memoryTransport } from '../../../../transports/memory.js';
import { natsTransport } from '../../../../transports/nats.js';
import { KvConflictError, isValidKvKey, type KvBucket, type TransportDeps } from '../../../../transports/transport.js';
import { startNatsServer } from '../../../support/nats-server.js';

const logger = pino({ level: 'silent' });
const simDeps = (clock: Clock): TransportDeps => ({ clock, random: new SeededRandom(1), logger });
const settings: ControllerSettings = { leaseMs: 1000, aliveMs: 1000, maxClockSkewMs: 200 };
const NAME = 'broker-a';
const report = (brokerId: number, epoch: number, writeOffset = 0): HeartbeatReport => ({ brokerName: NAME, brokerId, address: `broker.${NAME}.${brokerId}`, epoch, writeOffset });
const decode = (b: Uint8Array): GroupState => JSON.parse(new TextDecoder().decode(b)) as GroupState;

/** One memory network's bucket `ha`, opened by `n` transports (one per broker), on one SimClock. */
async function memoryBuckets(clock: SimClock, n: number): Promise<KvBucket[]> {
  const factory = memoryTransport();
  return Promise.all(Array.from({ length: n }, () => factory(simDeps(clock)).keyValue('ha')));
}

describe('kvController over a memory bucket', () => {
  test('the first heartbeat elects its broker; a slave is elected only after the lease plus maxClockSkewMs ran out', async () => {
    const clock = new SimClock();
    const [b1, b2] = await memoryBuckets(clock, 2);
    const p1 = kvController(b1!, clock, settings);
    const p2 = kvController(b2!, clock, settings);
    expect(await p1.heartbeat(report(1, 0, 100))).toMatchObject({ epoch: 1, masterId: 1, leader: true, leaseMs: 1000, inSync: [1] });
    expect(await p2.heartbeat(report(2, 0, 100))).toMatchObject({ epoch: 1, masterId: 1, masterAddress: `broker.${NAME}.1`, leader: false });
    const g = await p2.group(NAME);
    expect(await p1.alterSyncState({ brokerName: NAME, masterId: 1, epoch: 1, syncEpoch: g.syncEpoch, inSync: [2, 1] })).toEqual({ ok: true, syncEpoch: g.syncEpoch + 1, inSync: [1, 2] });
    const leaseFrom = clock.now();
    await clock.advance(500);
    await p1.heartbeat(report(1, 1, 200)); // renews: lease until leaseFrom + 1500
    for (const at of [900, 1500, 1700]) {
      await clock.advance(leaseFrom + at - clock.now());
      expect(await p2.heartbeat(report(2, 1, 200))).toMatchObject({ epoch: 1, masterId: 1, leader: false });
    }
    await clock.advance(leaseFrom + 1701 - clock.now());
    expect(await p2.heartbeat(report(2, 1, 200))).toMatchObject({ epoch: 2, masterId: 2, leader: true, inSync: [2] });
    // the old master comes back and learns it is not master any more
    expect(await p1.heartbeat(report(1, 1, 200))).toMatchObject({ epoch: 2, masterId: 2, leader: false });
  });

  test('alterSyncState is refused from a non-master, an old epoch or an old set version, and writes nothing', async () => {
    const clock = new SimClock();
    const [b1, b2] = await memoryBuckets(clock, 2);
    const p1 = kvController(b1!, clock, settings);
    const p2 = kvController(b2!, clock, settings);
    // no entry yet: nobody is master
    expect(await p2.alterSyncState({ brokerName: NAME, masterId: 2, epoch: 0, syncEpoch: 0, inSync: [2] })).toMatchObject({ ok: false });
    expect(await b1!.get(groupKey(NAME))).toBeUndefined();
    await p1.heartbeat(report(1, 0));
    await p2.heartbeat(report(2, 0));
    const before = await b1!.get(groupKey(NAME));
    const s = decode(before!.value);
    const refused = await p2.alterSyncState({ brokerName: NAME, masterId: 2, epoch: 1, syncEpoch: s.syncEpoch, inSync: [1, 2] });
    expect(refused.ok).toBe(false);
    expect(refused.reason).toContain('not the master');
    expect(await p1.alterSyncState({ brokerName: NAME, masterId: 1, epoch: 0, syncEpoch: s.syncEpoch, inSync: [1, 2] })).toMatchObject({ ok: false });
    expect(await p1.alterSyncState({ brokerName: NAME, masterId: 1, epoch: 1, syncEpoch: s.syncEpoch - 1, inSync: [1, 2] })).toMatchObject({ ok: false, syncEpoch: s.syncEpoch });
    expect((await b1!.get(groupKey(NAME)))?.revision).toBe(before!.revision);
  });

  test('heartbeats that read the same revision conflict; the loser reads again and both are recorded', async () => {
    const clock = new SimClock();
    const [b1, b2] = await memoryBuckets(clock, 2);
    // both reads happen before either write
    let reads = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((r) => (release = r));
    let conflicts = 0;
    const gated = (b: KvBucket): KvBucket => ({
      name: b.name,
      get: async (k) => {
        const e = await b.get(k);
        if (++reads === 2) release();
        if (reads <= 2) await bothRead;
        return e;
      },
      create: (k, v) => b.create(k, v).catch((e: unknown) => Promise.reject(e instanceof KvConflictError ? (conflicts++, e) : e)),
      update: (k, v, r) => b.update(k, v, r).catch((e: unknown) => Promise.reject(e instanceof KvConflictError ? (conflicts++, e) : e)),
    });
    const p1 = kvController(gated(b1!), clock, settings);
    const p2 = kvController(gated(b2!), clock, settings);
    const [a1, a2] = await Promise.all([p1.heartbeat(report(1, 0, 5)), p2.heartbeat(report(2, 0, 9))]);
    expect(conflicts).toBe(1);
    expect(a1.epoch).toBe(1);
    expect(a2.epoch).toBe(1);
    expect([a1.leader, a2.leader].filter(Boolean)).toHaveLength(1);
    const g = await p1.group(NAME);
    expect(Object.keys(g.brokers).sort()).toEqual(['1', '2']);
    expect(g.epoch).toBe(1);
  });

  test('gives up after maxAttempts lost writes with a KvControllerError that says so', async () => {
    const clock = new SimClock();
    const [b] = await memoryBuckets(clock, 1);
    let attempts = 0;
    const alwaysLoses: KvBucket = {
      name: b!.name,
      get: (k) => b!.get(k),
      create: async (k) => {
        attempts++;
        throw new KvConflictError(b!.name, k, 0);
      },
      update: async (k, _v, r) => {
        attempts++;
        throw new KvConflictError(b!.name, k, r);
      },
    };
    const err = await kvController(alwaysLoses, clock, settings, { maxAttempts: 3 })
      .heartbeat(report(1, 0))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KvControllerError);
    expect((err as Error).message).toContain('gave up after 3 attempts');
    expect((err as Error).cause).toBeInstanceOf(KvConflictError);
    expect(attempts).toBe(3);
  });

  test('an entry that is not the group state fails the call with KvControllerError and is left as it is', async () => {
    const clock = new SimClock();
    const [b] = await memoryBuckets(clock, 1);
    await b!.create(groupKey(NAME), new TextEncoder().encode('not json'));
    const p = kvController(b!, clock, settings);
    await expect(p.heartbeat(report(1, 0))).rejects.toBeInstanceOf(KvControllerError);
    await b!.create(groupKey('other'), new TextEncoder().encode(JSON.stringify({ brokerName: 'someone-else' })));
    await expect(p.group('other')).rejects.toThrow(/is not the state of broker group other/);
  });

  test('group keys are valid KV keys, distinct per broker name', () => {
    expect(groupKey('broker-a')).toBe('group.broker-a');
    expect(groupKey('Broker_1')).toBe('group.Broker_1');
    const names = ['a.b', 'a b', 'a=2e', 'ü', 'a/b', 'x'];
    const keys = names.map(groupKey);
    for (const k of keys) expect(isValidKvKey(k)).toBe(true);
    expect(new Set(keys).size).toBe(names.length);
    expect(() => groupKey('')).toThrow(KvControllerError);
  });
});

/**
 * Three brokers' ports over one memory bucket, each with its own clock (the SimClock plus a skew within
 * ±maxClockSkewMs/2). In each round the clock moves on, then some brokers heartbeat and some ask for an in-sync
 * change, all at once; a fast-check scheduler decides the order of their reads and writes, so heartbeats read the
 * same revision and conflict. A broker counts itself master when an answer says `leader` for the epoch it
 * reported (a lease renewed by that very write), from the time it sent that heartbeat until leaseMs later.
 */
describe('kvController under concurrent, interleaved heartbeats (property)', () => {
  type Op = { kind: 'hb'; broker: number; grow: number } | { kind: 'alter'; broker: number; add: number[] };
  const IDS = [1, 2, 3];
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('hb' as const), broker: fc.constantFrom(...IDS), grow: fc.nat(50) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('alter' as const), broker: fc.constantFrom(...IDS), add: fc.subarray(IDS) }) },
  );
  const roundArb = fc.record({ advance: fc.oneof(fc.nat(400), fc.integer({ min: 900, max: 1500 })), ops: fc.array(opArb, { maxLength: 4 }) });

  interface Commit {
    revision: number;
    at: number; // global time
    writer: number;
    state: GroupState;
  }

  test('one master per epoch, epochs only grow, elections only after a lease plus maxClockSkewMs, no two masters at once', async () => {
    let conflictsSeen = 0;
    let electionsSeen = 0;
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.integer({ min: -100, max: 100 }), { minLength: 3, maxLength: 3 }), fc.array(roundArb, { minLength: 1, maxLength: 25 }), async (s, skews, rounds) => {
        const sim = new SimClock();
        const buckets = await memoryBuckets(sim, 3);
        const commits: Commit[] = [];
        const grants: Array<{ broker: number; epoch: number; from: number }> = [];
        const alters: Array<{ broker: number; epoch: number; ok: boolean }> = [];
        const brokerClock = (i: number): Clock => ({
          now: () => sim.now() + skews[i]!,
          monotonicMs: () => sim.now(),
          setTimeout: () => {
            throw new Error('no timers');
          },
          clearTimeout: () => undefined,
          setInterval: () => {
            throw new Error('no timers');
          },
          clearInterval: () => undefined,
        });
        const scheduled = (b: KvBucket, writer: number): KvBucket => {
          const logged = async (write: Promise<number>, value: Uint8Array): Promise<number> => {
            try {
              const revision = await write;
              commits.push({ revision, at: sim.now(), writer, state: decode(value) });
              return revision;
            } catch (e) {
              if (e instanceof KvConflictError) conflictsSeen++;
              throw e;
            }
          };
          return {
            name: b.name,
            get: async (k) => {
              await s.schedule(Promise.resolve(), `${writer} get`);
              return b.get(k);
            },
            create: async (k, v) => {
              await s.schedule(Promise.resolve(), `${writer} create`);
              return logged(b.create(k, v), v);
            },
            update: async (k, v, r) => {
              await s.schedule(Promise.resolve(), `${writer} update@${r}`);
              return logged(b.update(k, v, r), v);
            },
          };
        };
        const ports: ControllerPort[] = IDS.map((id, i) => kvController(scheduled(buckets[i]!, id), brokerClock(i), settings));
        const known = IDS.map(() => ({ epoch: 0, syncEpoch: 0, offset: 0 }));

        for (const round of rounds) {
          await sim.advance(round.advance);
          const calls = round.ops.map(async (op) => {
            const i = op.broker - 1;
            const k = known[i]!;
            if (op.kind === 'hb') {
              k.offset += op.grow;
              const from = sim.now();
              const reported = k.epoch;
              const a: HeartbeatAnswer = await ports[i]!.heartbeat(report(op.broker, reported, k.offset));
              if (a.leader && a.epoch === reported) grants.push({ broker: op.broker, epoch: a.epoch, from });
              k.epoch = Math.max(k.epoch, a.epoch);
              k.syncEpoch = a.syncEpoch;
            } else {
              const epoch = k.epoch;
              const r = await ports[i]!.alterSyncState({ brokerName: NAME, masterId: op.broker, epoch, syncEpoch: k.syncEpoch, inSync: [op.broker, ...op.add] });
              alters.push({ broker: op.broker, epoch, ok: r.ok });
              k.syncEpoch = r.syncEpoch;
            }
          });
          await s.waitIdle();
          await Promise.all(calls);
        }

        commits.sort((a, b) => a.revision - b.revision);
        const masterOf = new Map<number, number>();
        let prev: GroupState | undefined;
        for (const c of commits) {
          const st = c.state;
          if (prev !== undefined) {
            expect(st.epoch).toBeGreaterThanOrEqual(prev.epoch);
            expect(st.syncEpoch).toBeGreaterThanOrEqual(prev.syncEpoch);
          }
          if (st.epoch > (prev?.epoch ?? 0)) {
            electionsSeen++;
            expect(st.epoch).toBe((prev?.epoch ?? 0) + 1);
            expect(st.masterId).not.toBeNull();
            // only when there was no master or its lease ran out more than maxClockSkewMs ago, on the writer's clock
            const writerNow = c.at + skews[c.writer - 1]!;
            if (prev !== undefined && prev.masterId !== null) expect(writerNow).toBeGreaterThan(prev.leaseUntil + settings.maxClockSkewMs);
            // never outside the in-sync set
            if (prev !== undefined && prev.inSync.length > 0) expect(prev.inSync).toContain(st.masterId);
          }
          if (st.masterId !== null) {
            const m = masterOf.get(st.epoch);
            if (m === undefined) masterOf.set(st.epoch, st.masterId);
            else expect(st.masterId).toBe(m);
          }
          prev = st;
        }
        // a broker told it is master holds the master of that epoch, and nobody is elected over it before its own lease ends
        for (const g of grants) {
          expect(masterOf.get(g.epoch)).toBe(g.broker);
          for (const c of commits) if (c.state.epoch > g.epoch) expect(c.at).toBeGreaterThan(g.from + settings.leaseMs);
        }
        for (const a of alters) if (a.ok) expect(masterOf.get(a.epoch)).toBe(a.broker);
      }),
      { numRuns: 150 },
    );
    // the runs did exercise conflicts and elections
    expect(conflictsSeen).toBeGreaterThan(0);
    expect(electionsSeen).toBeGreaterThan(50);
  });
});

describe('kvController over NATS JetStream KV', () => {
  test('the first heartbeat makes its broker master of epoch 1; once its lease lapsed an in-sync broker is elected', async () => {
    const server = await startNatsServer({ jetstream: true });
    const clock = new RealClock();
    const deps: TransportDeps = { clock, random: new SeededRandom(1), logger };
    const t1 = await natsTransport({ servers: server.url, direct: false })(deps);
    const t2 = await natsTransport({ servers: server.url, direct: false })(deps);
    try {
      const fast: ControllerSettings = { leaseMs: 1000, aliveMs: 1000, maxClockSkewMs: 100 };
      const p1 = kvController(await t1.keyValue!('ha-test'), clock, fast);
      const p2 = kvController(await t2.keyValue!('ha-test'), clock, fast);
      expect(await p1.heartbeat(report(1, 0, 10))).toMatchObject({ epoch: 1, masterId: 1, leader: true });
      const a2 = await p2.heartbeat(report(2, 0, 10));
      expect(a2).toMatchObject({ epoch: 1, masterId: 1, leader: false });
      expect(await p1.alterSyncState({ brokerName: NAME, masterId: 1, epoch: 1, syncEpoch: a2.syncEpoch, inSync: [1, 2] })).toMatchObject({ ok: true, inSync: [1, 2] });
      const g = await p2.group(NAME);
      expect(g).toMatchObject({ epoch: 1, masterId: 1, inSync: [1, 2] });
      // broker 1 falls silent; broker 2 is not elected while the lease (plus skew) holds
      expect(await p2.heartbeat(report(2, 1, 10))).toMatchObject({ epoch: 1, leader: false });
      await new Promise((r) => setTimeout(r, g.leaseUntil + fast.maxClockSkewMs + 50 - Date.now()));
      expect(await p2.heartbeat(report(2, 1, 10))).toMatchObject({ epoch: 2, masterId: 2, leader: true, inSync: [2] });
      expect(await p1.group(NAME)).toMatchObject({ epoch: 2, masterId: 2 });
    } finally {
      await Promise.all([t1.close(), t2.close()]);
      await server.stop();
    }
  });
});
