import { InFlight } from '../../../actors/runtime/in-flight.js';

const deferred = <T>() => {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

describe('InFlight', () => {
  it('counts tracked operations until each settles, either way, and returns the promise it was given', async () => {
    const f = new InFlight();
    const a = deferred<number>();
    const b = deferred<number>();
    expect(f.track(a.promise)).toBe(a.promise);
    f.track(b.promise).catch(() => undefined);
    expect(f.size).toBe(2);
    a.resolve(1);
    await a.promise;
    await Promise.resolve();
    expect(f.size).toBe(1);
    b.reject(new Error('x'));
    await b.promise.catch(() => undefined);
    await Promise.resolve();
    expect(f.size).toBe(0);
  });

  it('idle() resolves at once when nothing is in flight, else when the last one settles', async () => {
    const f = new InFlight();
    await f.idle();
    const a = deferred<void>();
    const b = deferred<void>();
    f.track(a.promise);
    f.track(b.promise).catch(() => undefined);
    let idle = false;
    const waiting = f.idle().then(() => (idle = true));
    a.resolve();
    await new Promise((r) => setTimeout(r, 0));
    expect(idle).toBe(false);
    b.reject(new Error('failed sends count as settled'));
    await waiting;
    expect(idle).toBe(true);
    expect(f.size).toBe(0);
  });
});
