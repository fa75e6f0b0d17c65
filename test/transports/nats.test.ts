import { connect, type NatsConnection } from '@nats-io/transport-node';
import { firstValueFrom, filter, take, toArray, timeout } from 'rxjs';
import pino from 'pino';
import fc from 'fast-check';
import { RealClock } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { Status } from '../../core/status.js';
import { decodeFrame, encodeFrame } from '../../transports/codec.js';
import { encodeBundle, isBundle, readBundle } from '../../transports/bundle.js';
import { frame, FrameKind, type Frame } from '../../transports/frame.js';
import { natsTransport, type NatsTransport } from '../../transports/nats.js';
import { TransportError, type Incoming, type Transport, type TransportDeps } from '../../transports/transport.js';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';
import { transportConformance } from './conformance.js';

const silent = pino({ level: 'silent' });
const deps = (): TransportDeps => ({ clock: new RealClock(), random: new SeededRandom(1), logger: silent });

async function open(server: NatsServer, prefix?: string): Promise<NatsTransport> {
  return (await natsTransport({ servers: server.url, prefix })(deps())) as NatsTransport;
}

/** Answers every request on `address` with the request's body, and status OK. */
function echo(t: Transport, address: string): { unsubscribe(): void } {
  return t.inbox(address).subscribe((i: Incoming) => i.reply?.(frame({ code: i.frame.code, body: i.frame.body })));
}

const bytes = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

let server: NatsServer;
const open$: Array<Transport | NatsConnection> = [];

beforeAll(async () => {
  server = await startNatsServer();
});

afterEach(async () => {
  for (const c of open$.splice(0)) await c.close().catch(() => undefined);
});

afterAll(async () => {
  await server?.stop();
});

transportConformance('nats', async () => {
  const a = await open(server, 'conf');
  const b = await open(server, 'conf');
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
});

describe('nats transport', () => {
  test('request/reply sets kind Reply and the request id; one-way and pub/sub arrive', async () => {
    const a = await open(server);
    const b = await open(server);
    open$.push(a, b);
    const sub = echo(b, 'svc.echo');
    await b.flush();
    const reply = await a.request('svc.echo', frame({ code: 7, body: bytes(10) }), { timeoutMs: 2000 });
    expect(reply.kind).toBe(FrameKind.Reply);
    expect(reply.requestId).not.toBe(0);
    expect(reply.code).toBe(7);
    expect(Array.from(reply.body)).toEqual(Array.from(bytes(10)));
    sub.unsubscribe();

    const got = firstValueFrom(b.inbox('svc.oneway').pipe(take(3), toArray(), timeout(2000)));
    const events = firstValueFrom(b.subscribe('route.*').pipe(take(1), timeout(2000)));
    await b.flush();
    for (let i = 0; i < 3; i++) a.send('svc.oneway', frame({ code: i }));
    a.publish('route.changed', frame({ code: 42, kind: FrameKind.Event }));
    expect((await got).map((i) => i.frame.code)).toEqual([0, 1, 2]);
    expect((await got).every((i) => i.reply === undefined)).toBe(true);
    expect((await events).code).toBe(42);
  });

  test('no listener -> NO_RESPONDERS; silent listener -> TIMEOUT', async () => {
    const a = await open(server);
    open$.push(a);
    await expect(a.request('nobody.home', frame({ code: 1 }), { timeoutMs: 1000 })).rejects.toMatchObject({
      code: 'NO_RESPONDERS',
      status: Status.NO_RESPONDERS,
    });
    const sub = a.inbox('silent').subscribe(() => undefined);
    await a.flush();
    const t0 = Date.now();
    await expect(a.request('silent', frame({ code: 1 }), { timeoutMs: 200 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(Date.now() - t0).toBeLessThan(1500);
    sub.unsubscribe();
  });

  test('prefixes isolate clusters sharing one server', async () => {
    const x = await open(server, 'cx');
    const y = await open(server, 'cy');
    open$.push(x, y);
    const seenByY: Frame[] = [];
    const s1 = y.inbox('broker.a').subscribe((i) => seenByY.push(i.frame));
    const s2 = y.subscribe('topic').subscribe((f) => seenByY.push(f));
    const xs = echo(x, 'broker.a');
    await Promise.all([x.flush(), y.flush()]);
    const r = await x.request('broker.a', frame({ code: 3 }), { timeoutMs: 2000 });
    expect(r.code).toBe(3);
    x.send('broker.a', frame({ code: 4 }));
    x.publish('topic', frame({ code: 5 }));
    await x.flush();
    await y.flush();
    await new Promise((res) => setTimeout(res, 50));
    expect(seenByY).toEqual([]);
    // a third prefix sees nobody at broker.a, although x and y both listen there
    const z = await open(server, 'cz');
    open$.push(z);
    await expect(z.request('broker.a', frame({ code: 1 }), { timeoutMs: 1000 })).rejects.toMatchObject({ code: 'NO_RESPONDERS' });
    s1.unsubscribe();
    s2.unsubscribe();
    xs.unsubscribe();
  });

  test('garbage at an inbox gets a BAD_FRAME reply or is dropped, and the inbox keeps serving', async () => {
    const b = await open(server, 'bad');
    const raw = await connect({ servers: server.url });
    const a = await open(server, 'bad');
    open$.push(a, b, raw);
    const seen: Frame[] = [];
    const sub = b.inbox('actor.1').subscribe((i) => {
      seen.push(i.frame);
      i.reply?.(frame({ code: i.frame.code }));
    });
    await b.flush();
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 80 }), async (junk) => {
        runs++;
        if (junk.length > 0 && junk[0] === 0xac) junk[0] = 0; // never a frame's magic
        const msg = await raw.request('bad.actor.1', junk, { timeout: 2000 });
        const err = decodeFrame(msg.data);
        expect(err.kind).toBe(FrameKind.Reply);
        expect(err.status).toBe(Status.BAD_FRAME);
        expect(String(err.header.error)).toMatch(/bad frame/);
      }),
      { numRuns: 20 },
    );
    raw.publish('bad.actor.1', Uint8Array.of(1, 2, 3));
    await raw.flush();
    const ok = await a.request('actor.1', frame({ code: 9 }), { timeoutMs: 2000 });
    expect(ok.code).toBe(9);
    expect(ok.status).toBe(Status.OK);
    expect(seen.map((f) => f.code)).toEqual([9]);
    expect(b.droppedFrames).toBe(runs + 1);
    sub.unsubscribe();
  });

  test('a flood of garbage is logged once per interval, with how many came', async () => {
    const lines: { badFrames?: number; msg?: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l) as { badFrames?: number }) });
    const b = (await natsTransport({ servers: server.url, prefix: 'flood' })({ ...deps(), logger })) as NatsTransport;
    const raw = await connect({ servers: server.url });
    open$.push(b, raw);
    const sub = b.inbox('actor.1').subscribe(() => undefined);
    await b.flush();
    for (let i = 0; i < 200; i++) raw.publish('flood.actor.1', Uint8Array.of(1, 2, 3, i));
    const answer = decodeFrame((await raw.request('flood.actor.1', Uint8Array.of(9), { timeout: 2000 })).data);
    expect(answer.status).toBe(Status.BAD_FRAME);
    expect(b.droppedFrames).toBe(201);
    const bad = lines.filter((l) => l.msg?.startsWith('bad frame at'));
    expect(bad).toHaveLength(1);
    expect(bad[0]!.badFrames).toBe(1);
    sub.unsubscribe();
  });

  test('a one-way frame sent before a request reaches the inbox before it', async () => {
    const a = await open(server, 'order');
    const b = await open(server, 'order');
    open$.push(a, b);
    const seen: number[] = [];
    const sub = b.inbox('svc').subscribe((i) => {
      seen.push(i.frame.code);
      i.reply?.(frame({ code: 0 }));
    });
    await b.flush();
    for (let n = 1; n <= 3; n++) a.send('svc', frame({ code: n }));
    await a.request('svc', frame({ code: 4 }), { timeoutMs: 2000 });
    a.send('svc', frame({ code: 5 }));
    a.publish('elsewhere', frame({ code: 6 })); // a publish sends what waits first
    await a.request('svc', frame({ code: 7 }), { timeoutMs: 2000 });
    expect(seen).toEqual([1, 2, 3, 4, 5, 7]);
    sub.unsubscribe();
  });

  test('a bundle that lies delivers nothing; a bad frame in a bundle is dropped, the others delivered', async () => {
    const b = await open(server, 'hostile');
    const raw = await connect({ servers: server.url });
    open$.push(b, raw);
    const seen: number[] = [];
    const sub = b.inbox('actor.1').subscribe((i) => {
      seen.push(i.frame.code);
      expect(i.reply).toBeUndefined();
    });
    await b.flush();
    const f1 = encodeFrame(frame({ code: 1 }));
    const f2 = encodeFrame(frame({ code: 2, kind: FrameKind.Request, requestId: 9 }));
    const lying = encodeBundle([f1, f2], f1.length + f2.length);
    lying[5] = 0xff; // the first entry claims more bytes than follow
    raw.publish('hostile.actor.1', lying, { reply: 'hostile.nobody' });
    const junk = Uint8Array.of(0xac, 1, 2, 3);
    raw.publish('hostile.actor.1', encodeBundle([f1, junk, f2], f1.length + junk.length + f2.length));
    await raw.flush();
    const t0 = Date.now();
    while (seen.length < 2 && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([1, 2]);
    expect(b.droppedFrames).toBe(2);
    sub.unsubscribe();
  });

  test('encoding failures and sending after close fail with typed errors', async () => {
    const a = await open(server);
    expect(() => a.send('x', frame({ code: 70000 }))).toThrow(TransportError);
    await a.close();
    expect(() => a.send('x', frame({ code: 1 }))).toThrow(expect.objectContaining({ code: 'CLOSED' }) as unknown as Error);
    await expect(a.request('x', frame({ code: 1 }))).rejects.toMatchObject({ code: 'CLOSED' });
  });

  test('close() rejects pending requests with CLOSED and state$ ends closed', async () => {
    const a = await open(server);
    const b = await open(server);
    open$.push(b);
    const sub = b.inbox('slow').subscribe(() => undefined);
    await b.flush();
    const states: string[] = [];
    a.state$.subscribe((s) => states.push(s));
    const p = a.request('slow', frame({ code: 1 }), { timeoutMs: 5000 });
    const outcome = p.then(
      () => 'resolved',
      (e: TransportError) => e.code,
    );
    await a.flush();
    const t0 = Date.now();
    await a.close();
    expect(await outcome).toBe('CLOSED');
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(states).toEqual(['connected', 'closed']);
    sub.unsubscribe();
  });
});

describe('nats transport with a small max_payload', () => {
  let small: NatsServer;
  beforeAll(async () => {
    small = await startNatsServer({ maxPayload: 64 * 1024 });
  });
  afterAll(async () => {
    await small?.stop();
  });

  transportConformance('nats, 64 KiB max_payload', async () => {
    const a = await open(small, 'conf');
    const b = await open(small, 'conf');
    return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
  });

  test('one-way frames of a turn leave bundled: in order, in a few NATS messages, none above max_payload', async () => {
    const a = await open(small, 'bundled');
    const b = await open(small, 'bundled');
    const raw = await connect({ servers: small.url });
    open$.push(a, b, raw);
    const sizes: number[] = [];
    const counted: number[] = [];
    raw.subscribe('bundled.svc', {
      callback: (_e, m) => {
        sizes.push(m.data.length);
        counted.push(isBundle(m.data) ? readBundle(m.data).length : 1);
      },
    });
    await raw.flush();
    const got = firstValueFrom(b.inbox('svc').pipe(take(2000), toArray(), timeout(5000)));
    await b.flush();
    for (let n = 0; n < 2000; n++) a.send('svc', frame({ code: n % 60000, header: { n }, body: bytes(100, n) }));
    const frames = (await got).map((i) => i.frame);
    expect(frames.map((f) => f.header.n)).toEqual(Array.from({ length: 2000 }, (_, n) => n));
    expect(frames.every((f, n) => Array.from(f.body).join() === Array.from(bytes(100, n)).join())).toBe(true);
    await raw.flush();
    expect(counted.reduce((x, y) => x + y, 0)).toBe(2000);
    expect(sizes.length).toBeGreaterThan(2); // 2,000 frames of 100 B do not fit one 64 KiB message
    expect(sizes.length).toBeLessThan(20);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64 * 1024);
  });

  test('maxPayload reflects the server; larger frames fail at once with PAYLOAD_TOO_LARGE', async () => {
    const a = await open(small);
    const b = await open(small);
    open$.push(a, b);
    expect(a.maxPayload).toBe(64 * 1024);
    const sub = echo(b, 'big');
    await b.flush();
    // just under the limit (the frame adds its fixed head and body length)
    const fits = frame({ code: 1, body: bytes(64 * 1024 - 17) });
    const r = await a.request('big', fits, { timeoutMs: 2000 });
    expect(r.body.length).toBe(64 * 1024 - 17);
    const tooBig = frame({ code: 1, body: bytes(64 * 1024 - 16) });
    expect(() => a.send('big', tooBig)).toThrow(/65537 bytes.*65536 bytes/);
    expect(() => a.publish('big', tooBig)).toThrow(expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE' }) as unknown as Error);
    const t0 = Date.now();
    await expect(a.request('big', tooBig, { timeoutMs: 5000 })).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      status: Status.PAYLOAD_TOO_LARGE,
    });
    await expect(a.request('big', frame({ code: 1, body: bytes(200_000) }), { timeoutMs: 5000 })).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
    });
    expect(Date.now() - t0).toBeLessThan(500);
    sub.unsubscribe();
  });
});

describe('nats transport across a server crash', () => {
  let crashy: NatsServer;
  beforeAll(async () => {
    crashy = await startNatsServer();
  });
  afterAll(async () => {
    await crashy?.stop();
  });

  test('SIGKILL + restart on the same port: state$ goes through disconnected, inbox survives, requests succeed', async () => {
    const a = await open(crashy);
    const b = await open(crashy);
    open$.push(a, b);
    const states: string[] = [];
    a.state$.subscribe((s) => states.push(s));
    const sub = echo(b, 'svc');
    await b.flush();
    expect((await a.request('svc', frame({ code: 1 }), { timeoutMs: 2000 })).code).toBe(1);
    const oldPid = crashy.pid;
    await crashy.kill();
    await firstValueFrom(a.state$.pipe(filter((s) => s !== 'connected'), timeout(3000)));
    await crashy.restart();
    expect(crashy.pid).not.toBe(oldPid);
    await firstValueFrom(a.state$.pipe(filter((s) => s === 'connected'), timeout(5000)));
    // b reconnects on its own schedule: retry (bounded) until its inbox is back
    const deadline = Date.now() + 5000;
    let reply: Frame | undefined;
    while (!reply && Date.now() < deadline) {
      reply = await a.request('svc', frame({ code: 2 }), { timeoutMs: 500 }).catch(() => undefined);
      if (!reply) await new Promise((res) => setTimeout(res, 50));
    }
    expect(reply?.code).toBe(2);
    expect(states).toContain('disconnected');
    expect(states[states.length - 1]).toBe('connected');
    sub.unsubscribe();
  });
  test('close() with the server gone ends at once: requests waiting fail CLOSED, the state is closed', async () => {
    const a = await open(crashy);
    const states: string[] = [];
    a.state$.subscribe((st) => states.push(st));
    await crashy.kill();
    await firstValueFrom(a.state$.pipe(filter((s) => s !== 'connected'), timeout(3000)));
    const waiting = a.request('svc', frame({ code: 3 }), { timeoutMs: 30_000 }).catch((e: unknown) => e);
    const t0 = Date.now();
    await a.close();
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(await waiting).toMatchObject({ code: 'CLOSED' });
    expect(states[states.length - 1]).toBe('closed');
    await crashy.restart();
  });
});
