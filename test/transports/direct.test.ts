import net from 'node:net';
import fc from 'fast-check';
import pino from 'pino';
import { firstValueFrom, take, toArray, timeout } from 'rxjs';
import { RealClock } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { Status } from '../../core/status.js';
import { encodeFrame } from '../../transports/codec.js';
import { lend, releaseBody } from '../../transports/body-loans.js';
import { DirectProtocolError, MAX_UNSENT_BYTES, MessageReader, lengthPrefix } from '../../transports/direct-wire.js';
import { FrameKind, frame, type Frame } from '../../transports/frame.js';
import { natsTransport, type DirectOptions, type NatsTransport } from '../../transports/nats.js';
import type { Incoming, RequestOptions, Transport, TransportDeps } from '../../transports/transport.js';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';
import { transportConformance } from './conformance.js';

const silent = pino({ level: 'silent' });
const deps = (): TransportDeps => ({ clock: new RealClock(), random: new SeededRandom(1), logger: silent });
const bytes = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

const framed = (messages: Uint8Array[]): Uint8Array => {
  const parts = messages.flatMap((m) => [lengthPrefix(m.length), m]);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

describe('MessageReader', () => {
  test('gives back every message, whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 10 }),
        (messages, cuts) => {
          const stream = framed(messages);
          const reader = new MessageReader(300);
          const got: number[][] = [];
          let at = 0;
          for (let i = 0; at < stream.length; i++) {
            const end = Math.min(stream.length, at + cuts[i % cuts.length]!);
            reader.push(stream.subarray(at, end), (m) => got.push(Array.from(m)));
            at = end;
          }
          expect(got).toEqual(messages.map((m) => Array.from(m)));
          expect(reader.buffered).toBe(0);
        },
      ),
    );
  });

  test('reading in place (a socket\'s onread) gives back every message too, large ones included', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 60_000, max: 300_000 })), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 10 }),
        (sizes, cuts) => {
          const messages = sizes.map((n, i) => bytes(n, i));
          const stream = framed(messages);
          const reader = new MessageReader(300_000);
          const got: Uint8Array[] = [];
          let at = 0;
          for (let i = 0; at < stream.length; i++) {
            const into = reader.nextBuffer();
            const n = Math.min(into.length, cuts[i % cuts.length]!, stream.length - at);
            into.set(stream.subarray(at, at + n));
            reader.read(into, n, (m) => got.push(m));
            at += n;
          }
          expect(got.map((m) => m.length)).toEqual(sizes);
          got.forEach((m, i) => expect(Buffer.compare(m, messages[i]!)).toBe(0));
          expect(reader.buffered).toBe(0);
        },
      ),
      { numRuns: 50 },
    );
  });

  test('a large message released by its handler lends its buffer to a later one, once, and nothing else does', () => {
    const reader = new MessageReader(1_000_000);
    /** `m` framed and read in place, in socket-sized reads: the message the reader hands out. */
    const receive = (m: Uint8Array): Uint8Array => {
      const stream = framed([m]);
      const got: Uint8Array[] = [];
      for (let at = 0; at < stream.length; ) {
        const into = reader.nextBuffer();
        const n = Math.min(into.length, stream.length - at);
        into.set(stream.subarray(at, at + n));
        reader.read(into, n, (x) => got.push(x));
        at += n;
      }
      expect(got).toHaveLength(1);
      return got[0]!;
    };
    const a = receive(bytes(200_000, 1));
    expect(a.buffer.byteLength).toBe(200_004); // nothing given back yet: exactly its message (length prefix included)
    releaseBody(a);
    releaseBody(a); // released already: ignored
    releaseBody(a.subarray(0, 10)); // not what was lent: ignored
    const b = receive(bytes(150_000, 2));
    expect(b.buffer).toBe(a.buffer);
    const c = receive(bytes(150_000, 3));
    expect(c.buffer).not.toBe(b.buffer); // the second release of a gave nothing back
    expect(c.buffer.byteLength).toBe(256 * 1024); // this reader's buffers come back: made to fit others too
    expect(Buffer.compare(b, bytes(150_000, 2))).toBe(0); // c did not land in b's memory
    const small = receive(bytes(300, 4));
    releaseBody(small); // a small message is a copy, never lent
    releaseBody(b);
    releaseBody(c);
    const d = receive(bytes(100_000, 5));
    expect([b.buffer, c.buffer]).toContain(d.buffer);
    expect(Buffer.compare(d, bytes(100_000, 5))).toBe(0);
  });

  test('a length above the limit is a protocol error; one at the limit is fine', () => {
    const reader = new MessageReader(8);
    const got: Uint8Array[] = [];
    reader.push(framed([bytes(8)]), (m) => got.push(m));
    expect(got).toHaveLength(1);
    expect(() => reader.push(lengthPrefix(9), () => undefined)).toThrow(DirectProtocolError);
  });
});

// ------------------------------------------------------------------------------------------- over NATS

let server: NatsServer;
const opened: Transport[] = [];

async function open(direct?: DirectOptions | false): Promise<NatsTransport> {
  const t = (await natsTransport({ servers: server.url, prefix: 'direct', ...(direct !== undefined ? { direct } : {}) })(deps())) as NatsTransport;
  opened.push(t);
  return t;
}

/** Answers every request at `address` with its body. */
function echo(t: Transport, address: string): { unsubscribe(): void } {
  return t.inbox(address).subscribe((i: Incoming) => i.reply?.(frame({ code: i.frame.code, body: i.frame.body })));
}

/** A requester that opens a direct link before its first request to an address, so the suite runs over links. */
class LinkFirst implements Transport {
  readonly kind = 'nats' as const;
  constructor(private readonly t: NatsTransport) {}
  get maxPayload(): number {
    return this.t.maxPayload;
  }
  get state$(): Transport['state$'] {
    return this.t.state$;
  }
  inbox(address: string): ReturnType<Transport['inbox']> {
    return this.t.inbox(address);
  }
  async request(to: string, f: Frame, opts?: RequestOptions): Promise<Frame> {
    await this.t.linkTo(to);
    return this.t.request(to, f, opts);
  }
  send(to: string, f: Frame): void {
    this.t.send(to, f);
  }
  publish(subject: string, f: Frame): void {
    this.t.publish(subject, f);
  }
  subscribe(subject: string): ReturnType<Transport['subscribe']> {
    return this.t.subscribe(subject);
  }
  flush(): Promise<void> {
    return this.t.flush();
  }
  close(): Promise<void> {
    return this.t.close();
  }
}

beforeAll(async () => {
  server = await startNatsServer();
});

afterEach(async () => {
  for (const t of opened.splice(0)) await t.close().catch(() => undefined);
});

afterAll(async () => {
  await server?.stop();
});

transportConformance('nats with direct links', async () => {
  const a = await open();
  const b = await open({});
  return { a: new LinkFirst(a), b, close: async () => void (await Promise.all([a.close(), b.close()])) };
});

describe('nats transport with direct links', () => {
  test('a linked requester gets its replies and one-way frames through while the NATS server is down', async () => {
    const own = await startNatsServer();
    try {
      const b = (await natsTransport({ servers: own.url, direct: {} })(deps())) as NatsTransport;
      const a = (await natsTransport({ servers: own.url })(deps())) as NatsTransport;
      opened.push(a, b);
      expect(b.directEndpoint).toMatchObject({ host: '127.0.0.1' });
      const sub = echo(b, 'svc.d');
      const oneWay = firstValueFrom(b.inbox('svc.oneway').pipe(take(100), toArray(), timeout(5000)));
      await b.flush();
      expect(await a.linkTo('svc.d')).toBe(true);
      expect(await a.linkTo('svc.oneway')).toBe(true);
      await own.stop();
      const replies = await Promise.all([0, 1, 1000, 200_000].map((n) => a.request('svc.d', frame({ code: 9, body: bytes(n, n) }), { timeoutMs: 2000 })));
      expect(replies.map((r) => r.body.length)).toEqual([0, 1, 1000, 200_000]);
      expect(Array.from(replies[3]!.body)).toEqual(Array.from(bytes(200_000, 200_000)));
      for (let i = 0; i < 100; i++) a.send('svc.oneway', frame({ code: i }));
      expect((await oneWay).map((i) => i.frame.code)).toEqual([...Array(100).keys()]);
      sub.unsubscribe();
    } finally {
      await own.stop();
    }
  });

  test('a large reply body released by its requester lends its memory to a later large reply on the link', async () => {
    const b = await open({});
    const a = await open();
    const sub = echo(b, 'svc.lend');
    await b.flush();
    expect(await a.linkTo('svc.lend')).toBe(true);
    const ask = (n: number, seed: number): Promise<Frame> => a.request('svc.lend', frame({ code: 9, body: bytes(n, seed) }), { timeoutMs: 2000 });
    const first = await ask(300_000, 1);
    expect(Buffer.compare(first.body, bytes(300_000, 1))).toBe(0);
    const kept = await ask(300_000, 2); // not released: its memory is never lent again
    releaseBody(first.body);
    const second = await ask(200_000, 3);
    expect(second.body.buffer).toBe(first.body.buffer);
    expect(Buffer.compare(second.body, bytes(200_000, 3))).toBe(0);
    expect(Buffer.compare(kept.body, bytes(300_000, 2))).toBe(0);
    sub.unsubscribe();
  });

  test('a lent reply body is given back once the direct link has written it, and only then', async () => {
    const b = await open({});
    const a = await open();
    let givenBack = 0;
    let lentBody: Uint8Array | undefined;
    const sub = b.inbox('svc.back').subscribe((i: Incoming) => {
      lentBody = bytes(300_000, 7);
      lend(lentBody, () => givenBack++);
      i.reply?.(frame({ code: i.frame.code, body: lentBody }));
    });
    await b.flush();
    expect(await a.linkTo('svc.back')).toBe(true);
    const r = await a.request('svc.back', frame({ code: 9 }), { timeoutMs: 2000 });
    expect(Buffer.compare(r.body, bytes(300_000, 7))).toBe(0);
    for (let i = 0; i < 100 && givenBack === 0; i++) await new Promise((res) => setTimeout(res, 10));
    expect(givenBack).toBe(1);
    releaseBody(lentBody!); // given back already: nothing more
    expect(givenBack).toBe(1);
    sub.unsubscribe();
  });

  test('requests waiting on a lost link fail with DISCONNECTED at once; later ones go over NATS, then direct again', async () => {
    const b = await open({});
    const a = await open();
    let held: Incoming | undefined;
    const silent$ = b.inbox('svc.lost').subscribe((i) => (held = i));
    await b.flush();
    expect(await a.linkTo('svc.lost')).toBe(true);
    const t0 = Date.now();
    const waiting = a.request('svc.lost', frame({ code: 1 }), { timeoutMs: 10_000 });
    while (held === undefined) await new Promise((r) => setTimeout(r, 5));
    silent$.unsubscribe(); // the listener stops serving the address: its links close
    await expect(waiting).rejects.toMatchObject({ code: 'DISCONNECTED', status: Status.TRANSPORT_CLOSED });
    expect(Date.now() - t0).toBeLessThan(2000);

    const sub = echo(b, 'svc.lost');
    await b.flush();
    const r = await a.request('svc.lost', frame({ code: 2, body: bytes(10) }), { timeoutMs: 2000 });
    expect(r.code).toBe(2);
    await new Promise((res) => setTimeout(res, 1100)); // the address is looked up again after a lost link
    expect(await a.linkTo('svc.lost')).toBe(true);
    expect((await a.request('svc.lost', frame({ code: 3 }), { timeoutMs: 2000 })).code).toBe(3);
    sub.unsubscribe();
  });

  test('a request timing out on a link cuts the link: the others waiting on it fail at once, later ones go over NATS', async () => {
    const b = await open({});
    const a = await open();
    let seen = 0;
    // the first two requests get no answer (a peer cut off), the rest an echo
    const sub = b.inbox('svc.mute').subscribe((i) => {
      if (++seen > 2) i.reply?.(frame({ code: i.frame.code }));
    });
    await b.flush();
    expect(await a.linkTo('svc.mute')).toBe(true);
    const short = a.request('svc.mute', frame({ code: 1 }), { timeoutMs: 300 });
    const long = a.request('svc.mute', frame({ code: 2 }), { timeoutMs: 20_000 });
    const t0 = Date.now();
    const failed = expect(long).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await expect(short).rejects.toMatchObject({ code: 'TIMEOUT' });
    await failed;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect((await a.request('svc.mute', frame({ code: 3 }), { timeoutMs: 2000 })).code).toBe(3);
    sub.unsubscribe();
  });

  test('a peer that stops reading is cut off once too much is unsent', async () => {
    const b = await open({});
    const sub = echo(b, 'svc.big');
    await b.flush();
    const { host, port, token } = b.directEndpoint!;
    const body = bytes(b.maxPayload - 1024);
    const requests = Array.from({ length: Math.ceil((MAX_UNSENT_BYTES * 1.5) / body.length) }, (_, i) =>
      encodeFrame(frame({ kind: FrameKind.Request, code: 1, requestId: i + 1, body })),
    );
    const closed = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => {
        s.pause(); // never reads a reply
        s.write(framed([new TextEncoder().encode(`${token}\nsvc.big`), ...requests]));
      });
      const giveUp = setTimeout(() => {
        s.destroy();
        resolve(false);
      }, 20_000);
      s.on('error', () => undefined);
      s.on('close', () => {
        clearTimeout(giveUp);
        resolve(true);
      });
    });
    expect(closed).toBe(true);
    sub.unsubscribe();
  }, 30_000);

  test('closing the serving transport fails requests waiting on its links with DISCONNECTED, not a timeout', async () => {
    const b = await open({});
    const a = await open();
    const sub = b.inbox('svc.closing').subscribe(() => undefined);
    await b.flush();
    expect(await a.linkTo('svc.closing')).toBe(true);
    const waiting = a.request('svc.closing', frame({ code: 1 }), { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    const failed = expect(waiting).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await b.close();
    await failed;
    expect(Date.now() - t0).toBeLessThan(3000);
    sub.unsubscribe();
  });

  test('addresses nobody serves directly stay on NATS; direct: false neither serves nor uses links', async () => {
    const plain = await open();
    const off = await open(false);
    const b = await open({});
    const s1 = echo(plain, 'svc.plain');
    const s2 = echo(b, 'svc.served');
    await Promise.all([plain.flush(), b.flush()]);
    expect(await b.linkTo('svc.plain')).toBe(false);
    expect((await b.request('svc.plain', frame({ code: 4 }), { timeoutMs: 2000 })).code).toBe(4);
    expect(await off.linkTo('svc.served')).toBe(false);
    expect((await off.request('svc.served', frame({ code: 5 }), { timeoutMs: 2000 })).code).toBe(5);
    await expect(b.request('svc.nobody', frame({ code: 1 }), { timeoutMs: 1000 })).rejects.toMatchObject({ code: 'NO_RESPONDERS' });
    s1.unsubscribe();
    s2.unsubscribe();
  });

  test('garbage or a wrong token on the direct port closes that connection only; the listener keeps serving', async () => {
    const b = await open({});
    const a = await open();
    const sub = echo(b, 'svc.g');
    await b.flush();
    const endpoint = b.directEndpoint!;
    const closedAfter = (data: Uint8Array): Promise<string> =>
      new Promise((resolve) => {
        const s = net.connect(endpoint.port, endpoint.host, () => s.write(data));
        let got = '';
        s.on('data', (d) => (got += d.toString('latin1')));
        s.on('error', () => undefined);
        s.on('close', () => resolve(got));
      });
    const hello = (token: string, address: string): Uint8Array => new TextEncoder().encode(`${token}\n${address}`);
    // an oversized length prefix, a hello without the listener's token (it is handed out only over NATS), a hello
    // for an address not served here, a frame that does not decode
    expect(await closedAfter(Uint8Array.from([0xff, 0xff, 0xff, 0xff]))).toBe('');
    expect(await closedAfter(framed([new TextEncoder().encode('svc.g')]))).toBe('');
    expect(await closedAfter(framed([hello('0'.repeat(32), 'svc.g')]))).toBe('');
    expect(await closedAfter(framed([hello(endpoint.token, 'svc.unknown')]))).toBe('');
    expect(await closedAfter(framed([hello(endpoint.token, 'svc.g'), bytes(20)]))).toMatch(/ok$/);
    expect(b.droppedFrames).toBe(1);
    expect(await a.linkTo('svc.g')).toBe(true);
    expect((await a.request('svc.g', frame({ code: 6 }), { timeoutMs: 2000 })).code).toBe(6);
    sub.unsubscribe();
  });

  test('a port already taken fails the transport with a clear error', async () => {
    const b = await open({});
    await expect(natsTransport({ servers: server.url, direct: { port: b.directEndpoint!.port } })(deps())).rejects.toThrow(/cannot listen for direct links on 127\.0\.0\.1:\d+/);
  });
});
