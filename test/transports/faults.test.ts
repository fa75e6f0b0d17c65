import pino from 'pino';
import { RealClock, SimClock } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { frame, type Frame } from '../../transports/frame.js';
import { globMatcher, withFaults, type FaultEvent, type FaultRule, type FaultyTransport } from '../../transports/faults.js';
import { memoryTransport } from '../../transports/memory.js';
import type { TransportDeps } from '../../transports/transport.js';
import { transportConformance } from './conformance.js';

const logger = pino({ level: 'silent' });

transportConformance('memory with a fault wrapper and no rules', async () => {
  const factory = withFaults(memoryTransport());
  const deps = (): TransportDeps => ({ clock: new RealClock(), random: new SeededRandom(1), logger });
  const a = await factory(deps());
  const b = await factory(deps());
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
});

/** Two faulty transports on one memory network and one simulated clock. */
function simPair(rules: FaultRule[] = [], seed = 1) {
  const clock = new SimClock();
  const deps = { clock, random: new SeededRandom(seed), logger };
  const factory = withFaults(memoryTransport(), { rules });
  const a = factory(deps) as FaultyTransport;
  const b = factory(deps) as FaultyTransport;
  return { clock, a, b, faults: factory.faults };
}

function collect(t: FaultyTransport, address: string): Frame[] {
  const got: Frame[] = [];
  t.inbox(address).subscribe((i) => got.push(i.frame));
  return got;
}

const send = (t: FaultyTransport, from: string, to: string, n: number): void =>
  t.send(to, frame({ code: 1, header: { n } }), { from });

describe('fault wrapper', () => {
  it('matches globs', () => {
    expect(globMatcher('*')('anything')).toBe(true);
    expect(globMatcher('*')(undefined)).toBe(true);
    expect(globMatcher('broker.*')('broker.a.0')).toBe(true);
    expect(globMatcher('broker.*')('namesrv.1')).toBe(false);
    expect(globMatcher('broker.*')(undefined)).toBe(false);
    expect(globMatcher('*.0')('broker.a.0')).toBe(true);
    expect(globMatcher('a.b')('a.b')).toBe(true);
    expect(globMatcher('a.b')('axb')).toBe(false);
    expect(globMatcher('a+(b)*')('a+(b)zz')).toBe(true);
  });

  it('drops frames with the configured probability', async () => {
    const { clock, a, b, faults } = simPair([{ to: 'lossy', drop: 0.3 }]);
    const got = collect(b, 'lossy');
    const other = collect(b, 'fine');
    for (let n = 0; n < 1000; n++) send(a, 'src', 'lossy', n);
    for (let n = 0; n < 100; n++) send(a, 'src', 'fine', n);
    await clock.runAll();
    expect(got.length + faults.counters.dropped).toBe(1000);
    expect(faults.counters.dropped).toBeGreaterThan(240);
    expect(faults.counters.dropped).toBeLessThan(360);
    expect(other).toHaveLength(100);
    // Order of what survives is kept.
    const ns = got.map((f) => f.header['n'] as number);
    expect([...ns].sort((x, y) => x - y)).toEqual(ns);
  });

  it('duplicates frames', async () => {
    const { clock, a, b, faults } = simPair([{ duplicate: 1 }]);
    const got = collect(b, 'dup');
    for (let n = 0; n < 5; n++) send(a, 'src', 'dup', n);
    await clock.runAll();
    expect(got.map((f) => f.header['n'])).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    expect(faults.counters.duplicated).toBe(5);
  });

  it('delays frames within [minMs, maxMs] on the clock', async () => {
    const { clock, a, b, faults } = simPair([{ from: 'slow', delay: { minMs: 10, maxMs: 20 } }]);
    const got: number[] = [];
    const t0 = clock.now();
    b.inbox('dst').subscribe(() => got.push(clock.now() - t0));
    for (let n = 0; n < 50; n++) send(a, 'slow', 'dst', n);
    send(a, 'fast', 'dst', 99);
    await clock.advance(9);
    expect(got).toEqual([0]); // only the frame from 'fast'
    await clock.advance(11);
    expect(got).toHaveLength(51);
    expect(got.slice(1).every((ms) => ms >= 10 && ms <= 20)).toBe(true);
    expect(new Set(got.slice(1)).size).toBeGreaterThan(3);
    expect(faults.counters.delayed).toBe(50);
  });

  it('partitions both directions until healed; requests across time out', async () => {
    const { clock, a, b, faults } = simPair();
    const atB = collect(b, 'b.1');
    const atA = collect(a, 'a.1');
    b.inbox('b.srv').subscribe((i) => i.reply!(frame({ code: 2 })));
    faults.partition(['a.*'], ['b.*']);
    send(a, 'a.1', 'b.1', 1);
    send(b, 'b.1', 'a.1', 2);
    send(a, 'c.1', 'b.1', 3);
    let err: unknown;
    const t0 = clock.now();
    const req = a.request('b.srv', frame({ code: 1 }), { from: 'a.1', timeoutMs: 500 }).catch((e: unknown) => (err = e));
    await clock.runAll();
    await req;
    expect(err).toMatchObject({ code: 'TIMEOUT' });
    expect(clock.now() - t0).toBe(500);
    expect(atB.map((f) => f.header['n'])).toEqual([3]);
    expect(atA).toHaveLength(0);
    expect(faults.counters).toMatchObject({ dropped: 3, partitioned: 3 });

    faults.heal();
    send(a, 'a.1', 'b.1', 4);
    const ok = a.request('b.srv', frame({ code: 1 }), { from: 'a.1', timeoutMs: 500 });
    await clock.runAll();
    await expect(ok).resolves.toMatchObject({ code: 2 });
    expect(atB.map((f) => f.header['n'])).toEqual([3, 4]);
  });

  it('applies faults to replies: a dropped reply times out, a delayed one arrives late', async () => {
    const { clock, a, b, faults } = simPair([
      { from: 'srv.drop', to: 'cli', drop: 1 },
      { from: 'srv.slow', to: 'cli', delay: { minMs: 50, maxMs: 50 } },
    ]);
    let served = 0;
    for (const addr of ['srv.drop', 'srv.slow']) {
      b.inbox(addr).subscribe((i) => {
        served++;
        i.reply!(frame({ code: 2 }));
      });
    }
    const t0 = clock.now();
    let dropErr: unknown;
    let slowAt = 0;
    const p1 = a.request('srv.drop', frame({ code: 1 }), { from: 'cli', timeoutMs: 300 }).catch((e: unknown) => (dropErr = e));
    const p2 = a.request('srv.slow', frame({ code: 1 }), { from: 'cli', timeoutMs: 300 }).then(() => (slowAt = clock.now() - t0));
    await clock.runAll();
    await Promise.all([p1, p2]);
    expect(served).toBe(2);
    expect(dropErr).toMatchObject({ code: 'TIMEOUT' });
    expect(slowAt).toBe(50);
    expect(faults.counters).toMatchObject({ dropped: 1, delayed: 1 });
    // A reply delayed past the deadline is a timeout too.
    faults.setRules([{ from: 'srv.slow', to: 'cli', delay: { minMs: 400, maxMs: 400 } }]);
    await expect(
      Promise.all([a.request('srv.slow', frame({ code: 1 }), { from: 'cli', timeoutMs: 300 }), clock.runAll()]),
    ).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('a duplicated request reaches the responder twice and resolves once', async () => {
    const { clock, a, b } = simPair([{ to: 'srv', duplicate: 1 }]);
    let served = 0;
    b.inbox('srv').subscribe((i) => i.reply!(frame({ code: 2, header: { n: ++served } })));
    const r = a.request('srv', frame({ code: 1 }), { from: 'cli' });
    await clock.runAll();
    await expect(r).resolves.toMatchObject({ header: { n: 1 } });
    expect(served).toBe(2);
  });

  it('makes the same decisions for the same seed', async () => {
    const rules: FaultRule[] = [{ drop: 0.2, duplicate: 0.2, delay: { minMs: 0, maxMs: 30 } }];
    const run = async (seed: number) => {
      const { clock, a, b, faults } = simPair(rules, seed);
      const events: FaultEvent[] = [];
      faults.events$.subscribe((e) => events.push(e));
      const got: number[] = [];
      b.inbox('dst').subscribe((i) => got.push(i.frame.header['n'] as number));
      for (let n = 0; n < 300; n++) send(a, 'src', 'dst', n);
      await clock.runAll();
      return { events, got, counters: { ...faults.counters } };
    };
    const r1 = await run(11);
    expect(r1.events.length).toBeGreaterThan(100);
    expect(await run(11)).toEqual(r1);
    expect((await run(12)).got).not.toEqual(r1.got);
  });

  it('still raises PAYLOAD_TOO_LARGE for frames it would drop or delay', async () => {
    const clock = new SimClock();
    const t = withFaults(memoryTransport({ maxPayload: 100 }), [{ drop: 1 }])({ clock, random: new SeededRandom(1), logger }) as FaultyTransport;
    const big = frame({ code: 1, body: new Uint8Array(200) });
    expect(() => t.send('x', big)).toThrow(expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE' }));
    await expect(t.request('x', big)).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(() => t.publish('s', frame({ code: 1e6 }))).toThrow(expect.objectContaining({ code: 'BAD_FRAME' }));
  });

  it('close() rejects requests it holds with CLOSED and cancels its timers', async () => {
    const { clock, a } = simPair([{ drop: 1 }]);
    const r = a.request('nowhere', frame({ code: 1 }), { timeoutMs: 10_000 });
    await a.close();
    await expect(r).rejects.toMatchObject({ code: 'CLOSED' });
    expect(clock.pending).toBe(0);
  });

  it('rejects invalid rules', () => {
    expect(() => withFaults(memoryTransport(), [{ drop: 2 }])).toThrow(RangeError);
    expect(() => withFaults(memoryTransport(), [{ delay: { minMs: 5, maxMs: 1 } }])).toThrow(RangeError);
  });
});
