import { RealClock, SimClock } from '../../core/clock.js';

describe('SimClock', () => {
  it('stands still until advanced, then fires due timers in (due, creation) order', async () => {
    const clock = new SimClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b@20'), 20);
    clock.setTimeout(() => fired.push('a@10'), 10);
    clock.setTimeout(() => fired.push('c@20'), 20);
    clock.setTimeout(() => fired.push('late'), 100);
    expect(clock.now()).toBe(1000);
    await clock.advance(50);
    expect(fired).toEqual(['a@10', 'b@20', 'c@20']);
    expect(clock.now()).toBe(1050);
    expect(clock.pending).toBe(1);
  });

  it('sets the time to each timer as it fires, and runs timers scheduled by timers', async () => {
    const clock = new SimClock(0);
    const seen: number[] = [];
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 5);
    }, 10);
    await clock.advance(100);
    expect(seen).toEqual([10, 15]);
  });

  it('cancels timers and repeats intervals', async () => {
    const clock = new SimClock(0);
    let ticks = 0;
    const cancelled = clock.setTimeout(() => ticks += 1000, 5);
    clock.clearTimeout(cancelled);
    const iv = clock.setInterval(() => ticks++, 10);
    await clock.advance(35);
    expect(ticks).toBe(3);
    clock.clearInterval(iv);
    await clock.advance(100);
    expect(ticks).toBe(3);
    expect(clock.pending).toBe(0);
  });

  it('lets promise callbacks of a timer settle before the next timer fires', async () => {
    const clock = new SimClock(0);
    const order: string[] = [];
    clock.setTimeout(() => {
      void Promise.resolve().then(() => order.push('microtask of first'));
    }, 1);
    clock.setTimeout(() => order.push('second'), 1);
    await clock.runAll();
    expect(order).toEqual(['microtask of first', 'second']);
  });

  it('runUntil stops when the condition holds or nothing is pending', async () => {
    const clock = new SimClock(0);
    let n = 0;
    clock.setInterval(() => n++, 1);
    expect(await clock.runUntil(() => n >= 7)).toBe(true);
    expect(n).toBe(7);
    const idle = new SimClock(0);
    expect(await idle.runUntil(() => false)).toBe(false);
  });
});

describe('RealClock', () => {
  it('fires a timer on real time', async () => {
    const clock = new RealClock();
    const start = clock.now();
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 5));
    expect(clock.now() - start).toBeGreaterThanOrEqual(4);
  });
});

describe('monotonicMs', () => {
  it('is the virtual now on a SimClock and a non-decreasing fractional reading on the real clock', async () => {
    const sim = new SimClock(1000);
    expect(sim.monotonicMs()).toBe(1000);
    await sim.advance(25);
    expect(sim.monotonicMs()).toBe(1025);
    const real = new RealClock();
    const a = real.monotonicMs();
    const b = real.monotonicMs();
    expect(b).toBeGreaterThanOrEqual(a);
  });
});
