import pino from 'pino';
import { RealClock, SimClock } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { encodeFrame } from '../../transports/codec.js';
import { FrameKind, frame, type Frame } from '../../transports/frame.js';
import { memoryNetwork, memoryTransport, type MemoryTransport } from '../../transports/memory.js';
import { TransportError, type Incoming, type TransportDeps } from '../../transports/transport.js';
import { transportConformance } from './conformance.js';

const logger = pino({ level: 'silent' });
const realDeps = (): TransportDeps => ({ clock: new RealClock(), random: new SeededRandom(1), logger });

transportConformance('memory (two transports on one network)', async () => {
  const factory = memoryTransport();
  const a = factory(realDeps());
  const b = factory(realDeps());
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
});

transportConformance('memory (one transport twice, small maxPayload)', async () => {
  const t = memoryTransport({ maxPayload: 64 * 1024 })(realDeps());
  return { a: t, b: t, close: () => t.close() };
});

describe('memory transport', () => {
  it('keeps separate networks apart and lets networks be shared explicitly', async () => {
    const t1 = memoryTransport()(realDeps());
    const t2 = memoryTransport()(realDeps());
    const seen: Incoming[] = [];
    t2.inbox('x').subscribe((i) => seen.push(i));
    await expect(t1.request('x', frame({ code: 1 }), { timeoutMs: 200 })).rejects.toMatchObject({ code: 'NO_RESPONDERS' });
    expect(seen).toHaveLength(0);

    const net = memoryNetwork();
    const n1 = memoryTransport({ network: net })(realDeps());
    const n2 = net.transport(realDeps());
    n2.inbox('y').subscribe((i) => i.reply!(frame({ code: 2 })));
    expect(net.hasListener('y')).toBe(true);
    await expect(n1.request('y', frame({ code: 1 }))).resolves.toMatchObject({ code: 2, kind: FrameKind.Reply });
    await Promise.all([t1.close(), t2.close(), n1.close(), n2.close()]);
  });

  it('copies bodies: the receiver does not alias the sender buffer', async () => {
    const t = memoryTransport()(realDeps());
    const body = new Uint8Array([1, 2, 3]);
    const got = new Promise<Frame>((resolve) => t.inbox('c').subscribe((i) => resolve(i.frame)));
    t.send('c', frame({ code: 1, body }));
    body[0] = 99;
    const f = await got;
    expect(Array.from(f.body)).toEqual([1, 2, 3]);
    expect(f.body.buffer).not.toBe(body.buffer);
    await t.close();
  });

  it('reports PAYLOAD_TOO_LARGE with both sizes', () => {
    const t = memoryTransport({ maxPayload: 100 })(realDeps());
    expect.assertions(3);
    try {
      t.send('a', frame({ code: 1, body: new Uint8Array(90) }));
    } catch (e) {
      expect(e).toBeInstanceOf(TransportError);
      expect((e as TransportError).code).toBe('PAYLOAD_TOO_LARGE');
      expect((e as Error).message).toMatch(/107 bytes.*100 bytes/);
    }
  });

  it('rejects unencodable frames with BAD_FRAME', () => {
    const t = memoryTransport()(realDeps());
    expect(() => t.send('a', frame({ code: 70000 }))).toThrow(expect.objectContaining({ code: 'BAD_FRAME' }));
  });

  it('on a SimClock delivers only when the clock is stepped, in a deterministic order', async () => {
    const run = async (): Promise<string[]> => {
      const clock = new SimClock();
      const deps = { clock, random: new SeededRandom(7), logger };
      const factory = memoryTransport();
      const a = factory(deps);
      const b = factory(deps);
      const log: string[] = [];
      b.inbox('b').subscribe((i) => {
        log.push(`b<-${i.frame.header['n']}@${clock.now()}`);
        i.reply?.(frame({ code: 1, header: { n: i.frame.header['n']! } }));
      });
      a.inbox('a').subscribe((i) => log.push(`a<-${i.frame.header['n']}`));
      const r = a.request('b', frame({ code: 1, header: { n: 'req' } })).then((f) => log.push(`reply ${f.header['n']}`));
      a.send('b', frame({ code: 1, header: { n: 1 } }));
      b.send('a', frame({ code: 1, header: { n: 2 } }));
      a.send('b', frame({ code: 1, header: { n: 3 } }));
      await new Promise((res) => setImmediate(res));
      expect(log).toEqual([]); // nothing moves without the clock
      expect(await clock.step()).toBe(true);
      const afterOne = log.length;
      expect(afterOne).toBeGreaterThan(0);
      await clock.runAll();
      await r;
      await a.close();
      await b.close();
      return log;
    };
    const first = await run();
    expect(first).toEqual(['b<-req@1700000000000', 'b<-1@1700000000000', 'b<-3@1700000000000', 'a<-2', 'reply req']);
    expect(await run()).toEqual(first);
  });

  it('on a SimClock times requests out on virtual time', async () => {
    const clock = new SimClock();
    const t = memoryTransport()({ clock, random: new SeededRandom(1), logger });
    t.inbox('mute').subscribe(() => undefined);
    let err: unknown;
    const p = t.request('mute', frame({ code: 1 }), { timeoutMs: 1000 }).catch((e: unknown) => (err = e));
    await clock.advance(999);
    expect(err).toBeUndefined();
    await clock.advance(1);
    await p;
    expect(err).toMatchObject({ code: 'TIMEOUT' });
    expect(clock.pending).toBe(0);
    await t.close();
  });

  it('drops injected garbage with a count and keeps serving the inbox', async () => {
    const t: MemoryTransport = memoryTransport()(realDeps());
    const seen: number[] = [];
    let errored = false;
    t.inbox('in').subscribe({ next: (i) => seen.push(i.frame.code), error: () => (errored = true) });
    t.injectRaw('in', new Uint8Array([1, 2, 3]));
    const good = encodeFrame(frame({ code: 77 }));
    t.injectRaw('in', good.subarray(0, good.length - 1));
    t.injectRaw('in', good);
    const req = encodeFrame(frame({ code: 78, kind: FrameKind.Request, requestId: 5 }));
    t.injectRaw('in', req);
    t.send('in', frame({ code: 79 }));
    await t.flush();
    expect(seen).toEqual([77, 78, 79]);
    expect(t.droppedFrames).toBe(2);
    expect(errored).toBe(false);
    await t.close();
  });

  it('close() rejects pending requests, completes inboxes and refuses new work', async () => {
    const t = memoryTransport()(realDeps());
    let completed = 0;
    t.inbox('slow').subscribe({ next: () => undefined, complete: () => completed++ });
    t.subscribe('subj').subscribe({ complete: () => completed++ });
    const states: string[] = [];
    t.state$.subscribe((s) => states.push(s));
    const pending = t.request('slow', frame({ code: 1 }), { timeoutMs: 60_000 });
    await t.flush();
    await t.close();
    await expect(pending).rejects.toMatchObject({ code: 'CLOSED' });
    expect(completed).toBe(2);
    expect(states).toEqual(['connected', 'closed']);
    expect(() => t.send('x', frame({ code: 1 }))).toThrow(expect.objectContaining({ code: 'CLOSED' }));
    await expect(t.request('x', frame({ code: 1 }))).rejects.toMatchObject({ code: 'CLOSED' });
    await t.close(); // idempotent
  });

  it('unsubscribing stops listening', async () => {
    const t = memoryTransport()(realDeps());
    const sub = t.inbox('gone').subscribe(() => undefined);
    sub.unsubscribe();
    await expect(t.request('gone', frame({ code: 1 }), { timeoutMs: 500 })).rejects.toMatchObject({ code: 'NO_RESPONDERS' });
    await t.close();
  });
});
