import pino from 'pino';
import { SimClock } from '../../../core/clock.js';
import {
  oneAtATime,
  DEFAULT_REGISTER_RETRY,
  RegistrationStoppedError,
  RegistrationTimeoutError,
  Registrations,
  nextRetryDelay,
  registrationStatus,
  type RegistrationStatus,
} from '../../../actors/broker/registration.js';

const logger = pino({ level: 'silent' });

/** Registrations against fake name servers: `up` decides whether a request to an id is answered OK. */
function setup(namesrv: string[], up: Set<string>) {
  const clock = new SimClock(0);
  const asked: { id: string; at: number }[] = [];
  const reg = new Registrations({
    clock,
    logger,
    namesrv,
    retry: DEFAULT_REGISTER_RETRY,
    register: async (id) => {
      asked.push({ id, at: clock.now() });
      if (!up.has(id)) throw new Error(`no responders for ${id}`);
    },
  });
  const seen: RegistrationStatus[] = [];
  reg.status$.subscribe((s) => seen.push(s));
  return { clock, asked, reg, seen };
}

describe('registration retry delays', () => {
  it('start at the initial delay and double up to the bound', () => {
    const p = { initialMs: 100, maxMs: 3000 };
    const delays: number[] = [];
    let d: number | undefined;
    for (let i = 0; i < 8; i++) delays.push((d = nextRetryDelay(d, p)));
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3000, 3000, 3000]);
    expect(nextRetryDelay(undefined, { initialMs: 100, maxMs: 50 })).toBe(50);
  });

  it('a status lists the name servers in the order given', () => {
    expect(registrationStatus(['ns-2', 'ns-1', 'ns-3'], new Set(['ns-1', 'ns-3']))).toEqual({ registered: ['ns-1', 'ns-3'], missing: ['ns-2'] });
  });
});

describe('Registrations', () => {
  it('retries a name server that does not answer on a doubling backoff until it does, then stops retrying', async () => {
    const up = new Set(['ns-1']);
    const { clock, asked, reg, seen } = setup(['ns-1', 'ns-2'], up);
    expect(await reg.all()).toBe(1);
    expect(reg.status()).toEqual({ registered: ['ns-1'], missing: ['ns-2'] });
    await clock.advance(1_500);
    expect(asked.filter((a) => a.id === 'ns-2').map((a) => a.at)).toEqual([0, 100, 300, 700, 1500]);
    up.add('ns-2');
    await clock.advance(1_600);
    expect(reg.status()).toEqual({ registered: ['ns-1', 'ns-2'], missing: [] });
    const count = asked.length;
    await clock.advance(60_000);
    expect(asked.length).toBe(count); // no retries once every name server answered
    expect(clock.pending).toBe(0);
    expect(seen.map((s) => s.missing)).toEqual([['ns-1', 'ns-2'], ['ns-2'], []]);
  });

  it('an announcement registers at once and restarts the backoff', async () => {
    const up = new Set<string>();
    const { clock, asked, reg } = setup(['ns-1'], up);
    await reg.all();
    await clock.advance(10_000); // the backoff reached its bound
    up.add('ns-1');
    const before = asked.length;
    reg.announced('ns-1');
    await clock.advance(0);
    expect(asked.length).toBe(before + 1);
    expect(reg.status().missing).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('first() resolves at the first answer; whenAll() at the last, or rejects naming the missing', async () => {
    const up = new Set(['ns-2']);
    const { clock, reg } = setup(['ns-1', 'ns-2', 'ns-3'], up);
    await reg.first();
    expect(reg.status().registered).toEqual(['ns-2']);
    const timedOut = reg.whenAll(1_000);
    timedOut.catch(() => undefined);
    await clock.advance(1_000);
    await expect(timedOut).rejects.toThrow(RegistrationTimeoutError);
    await expect(timedOut).rejects.toMatchObject({ missing: ['ns-1', 'ns-3'], registered: ['ns-2'], message: expect.stringMatching(/name servers ns-1, ns-3 did not register the broker within 1000 ms; registered with ns-2/) });
    const all = reg.whenAll(10_000);
    up.add('ns-1');
    up.add('ns-3');
    await clock.advance(3_000);
    await expect(all).resolves.toBeUndefined();
    expect(clock.pending).toBe(0);
  });

  it('a late failure of an older attempt does not undo a newer success', async () => {
    const clock = new SimClock(0);
    const answers: { resolve: () => void; reject: (e: Error) => void }[] = [];
    const reg = new Registrations({
      clock,
      logger,
      namesrv: ['ns-1'],
      retry: DEFAULT_REGISTER_RETRY,
      register: () => new Promise<void>((resolve, reject) => answers.push({ resolve, reject })),
    });
    const older = reg.one('ns-1');
    const newer = reg.one('ns-1');
    answers[1]!.resolve();
    await newer;
    answers[0]!.reject(new Error('timed out'));
    await older;
    expect(reg.status().missing).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('stop() cancels retries, waits for requests in flight, and fails waiters', async () => {
    const { clock, reg, asked } = setup(['ns-1'], new Set());
    await reg.all();
    const waiting = reg.whenAll(60_000);
    await reg.stop();
    await expect(waiting).rejects.toThrow(RegistrationStoppedError);
    const n = asked.length;
    await clock.advance(10_000);
    expect(asked.length).toBe(n);
    await expect(reg.one('ns-1')).resolves.toBe(false);
    await expect(reg.whenAll(1)).rejects.toThrow(RegistrationStoppedError);
  });

  it('with no name servers everything is done at once', async () => {
    const { reg } = setup([], new Set());
    await reg.first();
    expect(await reg.all()).toBe(0);
    await expect(reg.whenAll(1)).resolves.toBeUndefined();
  });
});

describe('oneAtATime', () => {
  it('runs one registration per name server at a time; calls meanwhile share the one next attempt', async () => {
    const started: string[] = [];
    const finish = new Map<string, () => void>();
    const register = oneAtATime(
      (id) =>
        new Promise<void>((resolve) => {
          started.push(id);
          finish.set(`${id}#${started.filter((s) => s === id).length}`, resolve);
        }),
    );
    const first = register('ns-1');
    const other = register('ns-2'); // another name server: not held back
    const second = register('ns-1');
    const third = register('ns-1');
    expect(third).toBe(second);
    await Promise.resolve();
    expect(started).toEqual(['ns-1', 'ns-2']);
    finish.get('ns-1#1')!();
    await first;
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(started).toEqual(['ns-1', 'ns-2', 'ns-1']);
    // a call while the second runs waits for it
    const fourth = register('ns-1');
    expect(fourth).not.toBe(second);
    finish.get('ns-1#2')!();
    await second;
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(started).toEqual(['ns-1', 'ns-2', 'ns-1', 'ns-1']);
    finish.get('ns-1#3')!();
    finish.get('ns-2#1')!();
    await Promise.all([fourth, other]);
  });

  it('a failed registration does not hold back the next one, and its caller hears the failure', async () => {
    let calls = 0;
    const register = oneAtATime(async () => {
      calls++;
      if (calls === 1) throw new Error('no answer');
    });
    const failed = register('ns-1');
    const next = register('ns-1');
    await expect(failed).rejects.toThrow('no answer');
    await expect(next).resolves.toBeUndefined();
    expect(calls).toBe(2);
  });
});
