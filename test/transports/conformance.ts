/**
 * A conformance suite every transport must pass. Call it from a transport's test file:
 *
 *   transportConformance('memory', async () => { ...; return { a, b, close } });
 *
 * `a` and `b` are two transports on one network (they may be the same instance). The suite uses real time
 * (rxjs timers and the transports' own clocks), unique addresses per test, and awaits `flush()` on both sides
 * after subscribing so a transport with a remote server has registered the subscription before the first
 * frame is sent.
 */
import { firstValueFrom, take, timeout, toArray, type Observable, type Subscription } from 'rxjs';
import { encodedLength } from '../../transports/codec.js';
import { FrameKind, frame } from '../../transports/frame.js';
import { TransportError, type Incoming, type Transport } from '../../transports/transport.js';

export interface ConformancePair {
  a: Transport;
  b: Transport;
  close(): Promise<void>;
}

export interface ConformanceOptions {
  /** Bytes below maxPayload for the "largest frame" case, for transports whose envelope costs bytes too. Default 0. */
  payloadHeadroom?: number;
  /** How long to wait for frames that should arrive (ms). Default 5000. */
  arrivalTimeoutMs?: number;
  /** Frames in the ordering case. Default 1000. */
  orderingCount?: number;
}

let seq = 0;
const uniq = (what: string): string => `conf-${process.pid}-${Date.now().toString(36)}-${++seq}.${what}`;

const bytesOf = (n: number, seed = 1): Uint8Array => {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
};

function expectTransportError(err: unknown, codes: string[]): void {
  expect(err).toBeInstanceOf(TransportError);
  expect(codes).toContain((err as TransportError).code);
}

export function transportConformance(
  name: string,
  make: () => Promise<ConformancePair>,
  opts: ConformanceOptions = {},
): void {
  const arrival = opts.arrivalTimeoutMs ?? 5000;
  const orderingCount = opts.orderingCount ?? 1000;
  const headroom = opts.payloadHeadroom ?? 0;

  const collect = <T>(obs: Observable<T>, n: number): Promise<T[]> =>
    firstValueFrom(obs.pipe(take(n), toArray(), timeout(arrival)));

  describe(`transport conformance: ${name}`, () => {
    let pair: ConformancePair;
    let subs: Subscription[] = [];

    /** Answers every request at `address` on `t` with `answer(request)`. */
    const serve = async (t: Transport, address: string, answer: (i: Incoming) => void): Promise<void> => {
      subs.push(t.inbox(address).subscribe(answer));
      await t.flush();
      await pair.a.flush();
      await pair.b.flush();
    };

    beforeEach(async () => {
      pair = await make();
    });
    afterEach(async () => {
      for (const s of subs) s.unsubscribe();
      subs = [];
      await pair.close();
    });

    it('request/reply: the reply comes back with kind Reply, its status, header and body', async () => {
      const addr = uniq('echo');
      let seenId = -1;
      await serve(pair.b, addr, (i) => {
        expect(i.frame.kind).toBe(FrameKind.Request);
        seenId = i.frame.requestId;
        i.reply!(frame({ code: i.frame.code, status: 3, header: { echo: i.frame.header['q'] ?? '', n: 42 }, body: i.frame.body }));
      });
      const reply = await pair.a.request(addr, frame({ code: 11, header: { q: 'héllo' }, body: bytesOf(100) }), { timeoutMs: arrival });
      expect(reply.kind).toBe(FrameKind.Reply);
      expect(reply.requestId).toBe(seenId);
      expect(reply.code).toBe(11);
      expect(reply.status).toBe(3);
      expect(reply.header).toEqual({ echo: 'héllo', n: 42 });
      expect(Array.from(reply.body)).toEqual(Array.from(bytesOf(100)));
    });

    it('request/reply: concurrent requests each get their own reply', async () => {
      const addr = uniq('double');
      await serve(pair.b, addr, (i) => {
        i.reply!(frame({ code: i.frame.code, header: { v: (i.frame.header['v'] as number) * 2 } }));
      });
      const replies = await Promise.all(
        Array.from({ length: 50 }, (_, v) => pair.a.request(addr, frame({ code: 1, header: { v } }), { timeoutMs: arrival })),
      );
      expect(replies.map((r) => r.header['v'])).toEqual(Array.from({ length: 50 }, (_, v) => v * 2));
    });

    it('one-way: the frame arrives without a reply path', async () => {
      const addr = uniq('oneway');
      const got = collect(pair.b.inbox(addr), 1);
      await pair.b.flush();
      pair.a.send(addr, frame({ code: 5, header: { k: true }, body: bytesOf(10) }));
      await pair.a.flush();
      const [i] = await got;
      expect(i!.frame.kind).toBe(FrameKind.OneWay);
      expect(i!.frame.code).toBe(5);
      expect(i!.frame.header).toEqual({ k: true });
      expect(Array.from(i!.frame.body)).toEqual(Array.from(bytesOf(10)));
      expect(i!.reply).toBeUndefined();
    });

    it('publish/subscribe: every subscriber gets each published frame', async () => {
      const subject = uniq('events');
      const s1 = collect(pair.a.subscribe(subject), 3);
      const s2 = collect(pair.b.subscribe(subject), 3);
      await pair.a.flush();
      await pair.b.flush();
      for (let n = 0; n < 3; n++) pair.a.publish(subject, frame({ kind: FrameKind.Event, code: 9, header: { n } }));
      await pair.a.flush();
      for (const got of [await s1, await s2]) {
        expect(got.map((f) => f.header['n'])).toEqual([0, 1, 2]);
        expect(got.every((f) => f.kind === FrameKind.Event && f.code === 9)).toBe(true);
      }
    });

    it('a request nobody listens for fails with NO_RESPONDERS or TIMEOUT within its timeout', async () => {
      const start = Date.now();
      const err = await pair.a.request(uniq('nobody'), frame({ code: 1 }), { timeoutMs: 300 }).catch((e: unknown) => e);
      expectTransportError(err, ['NO_RESPONDERS', 'TIMEOUT']);
      expect(Date.now() - start).toBeLessThan(300 + 1500);
    });

    it('frames with an empty body and with the largest allowed size arrive intact', async () => {
      const addr = uniq('sizes');
      const base = frame({ code: 2, header: { size: 'max' } });
      const maxBody = pair.a.maxPayload - headroom - encodedLength(base);
      const big = { ...base, body: bytesOf(maxBody, 7) };
      expect(encodedLength(big)).toBe(pair.a.maxPayload - headroom);
      const got = collect(pair.b.inbox(addr), 2);
      await pair.b.flush();
      pair.a.send(addr, frame({ code: 2, header: { size: 'empty' } }));
      pair.a.send(addr, big);
      await pair.a.flush();
      const [empty, large] = await got;
      expect(empty!.frame.body.length).toBe(0);
      expect(empty!.frame.header).toEqual({ size: 'empty' });
      expect(large!.frame.body.length).toBe(maxBody);
      expect(Buffer.from(large!.frame.body).equals(Buffer.from(big.body))).toBe(true);

      // The same sizes through request/reply (the reply echoes the body).
      const echo = uniq('echo-sizes');
      await serve(pair.b, echo, (i) => i.reply!(frame({ code: 2, header: i.frame.header, body: i.frame.body })));
      const r1 = await pair.a.request(echo, frame({ code: 2, header: { size: 'max' } }), { timeoutMs: arrival });
      expect(r1.body.length).toBe(0);
      const r2 = await pair.a.request(echo, big, { timeoutMs: arrival });
      expect(Buffer.from(r2.body).equals(Buffer.from(big.body))).toBe(true);
    });

    it('a frame over maxPayload fails with PAYLOAD_TOO_LARGE', async () => {
      const addr = uniq('too-large');
      await serve(pair.b, addr, (i) => i.reply?.(frame({ code: 1 })));
      const base = frame({ code: 2 });
      const over = { ...base, body: new Uint8Array(pair.a.maxPayload - encodedLength(base) + 1) };
      expect(encodedLength(over)).toBe(pair.a.maxPayload + 1);
      let thrown: unknown;
      try {
        pair.a.send(addr, over);
      } catch (e) {
        thrown = e;
      }
      expectTransportError(thrown, ['PAYLOAD_TOO_LARGE']);
      expect((thrown as Error).message).toContain(String(pair.a.maxPayload));
      const err = await pair.a.request(addr, over, { timeoutMs: arrival }).catch((e: unknown) => e);
      expectTransportError(err, ['PAYLOAD_TOO_LARGE']);
      // Far over the limit as well (no attempt to encode gigantic frames first is required, but it must fail).
      let thrown2: unknown;
      try {
        pair.a.publish(uniq('subject'), { ...base, body: new Uint8Array(pair.a.maxPayload * 2) });
      } catch (e) {
        thrown2 = e;
      }
      expectTransportError(thrown2, ['PAYLOAD_TOO_LARGE']);
    });

    it(`keeps the order of ${orderingCount} one-way frames between one sender and one receiver`, async () => {
      const addr = uniq('order');
      const got = collect(pair.b.inbox(addr), orderingCount);
      await pair.b.flush();
      for (let n = 0; n < orderingCount; n++) pair.a.send(addr, frame({ code: 3, header: { n }, body: bytesOf(n % 64, n) }));
      await pair.a.flush();
      const frames = await got;
      expect(frames.map((i) => i.frame.header['n'])).toEqual(Array.from({ length: orderingCount }, (_, n) => n));
      expect(frames.every((i, n) => i.frame.body.length === n % 64)).toBe(true);
    });

    it('a reply that arrives after the timeout does no harm', async () => {
      const addr = uniq('slow');
      const late: Array<() => void> = [];
      await serve(pair.b, addr, (i) => {
        const answer = (): void => i.reply!(frame({ code: 1, header: { for: i.frame.header['n'] as number } }));
        if (i.frame.header['slow']) late.push(answer);
        else answer();
      });
      const err = await pair.a.request(addr, frame({ code: 1, header: { n: 1, slow: true } }), { timeoutMs: 150 }).catch((e: unknown) => e);
      expectTransportError(err, ['TIMEOUT']);
      expect(late).toHaveLength(1);
      late[0]!(); // the stale reply goes out now
      late[0]!(); // and a second call is ignored
      await pair.b.flush();
      const ok = await pair.a.request(addr, frame({ code: 1, header: { n: 2 } }), { timeoutMs: arrival });
      expect(ok.header['for']).toBe(2);
      await new Promise((r) => setTimeout(r, 20));
    });

    it('a reply called twice is delivered once', async () => {
      const addr = uniq('twice');
      await serve(pair.b, addr, (i) => {
        i.reply!(frame({ code: 1, header: { first: true } }));
        i.reply!(frame({ code: 1, header: { first: false } }));
      });
      const r = await pair.a.request(addr, frame({ code: 1 }), { timeoutMs: arrival });
      expect(r.header['first']).toBe(true);
      const r2 = await pair.a.request(addr, frame({ code: 1 }), { timeoutMs: arrival });
      expect(r2.header['first']).toBe(true);
    });
  });
}
