import net from 'node:net';
import pino from 'pino';
import { RealClock } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, MAX_HELLO_BYTES } from '../../transports/direct.js';
import { DirectProtocolError, MessageReader, lengthPrefix } from '../../transports/direct-wire.js';
import { frame, type Frame } from '../../transports/frame.js';
import { natsTransport, type DirectOptions, type NatsTransport } from '../../transports/nats.js';
import type { Incoming, Transport, TransportDeps } from '../../transports/transport.js';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';

/**
 * What a direct listener gives a peer before its hello: a few seconds to say it, a few kilobytes to say it in,
 * and a place among a bounded number of connections. Linked peers are not affected by the others.
 */

const silent = pino({ level: 'silent' });
const deps = (): TransportDeps => ({ clock: new RealClock(), random: new SeededRandom(1), logger: silent });
const utf8 = new TextEncoder();

const framed = (messages: Uint8Array[]): Uint8Array => Buffer.concat(messages.flatMap((m) => [lengthPrefix(m.length), m]));

let server: NatsServer;
const opened: Transport[] = [];
const sockets: net.Socket[] = [];

async function open(direct?: DirectOptions | false): Promise<NatsTransport> {
  const t = (await natsTransport({ servers: server.url, prefix: 'limits', ...(direct !== undefined ? { direct } : {}) })(deps())) as NatsTransport;
  opened.push(t);
  return t;
}

function echo(t: Transport, address: string): { unsubscribe(): void } {
  return t.inbox(address).subscribe((i: Incoming) => i.reply?.(frame({ code: i.frame.code, body: i.frame.body })));
}

interface Raw {
  socket: net.Socket;
  /** Resolves with when the connection closed (ms after it was opened) and what the listener sent. */
  closed: Promise<{ afterMs: number; got: string }>;
  connected: Promise<void>;
}

/** A raw connection to a listener's direct port that writes `data` (if any) once connected. */
function connectRaw(t: NatsTransport, data?: Uint8Array): Raw {
  const { host, port } = t.directEndpoint!;
  const t0 = Date.now();
  let got = '';
  const socket = net.connect(port, host);
  sockets.push(socket);
  const connected = new Promise<void>((resolve) =>
    socket.once('connect', () => {
      if (data !== undefined) socket.write(data);
      resolve();
    }),
  );
  socket.on('data', (d) => (got += d.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<{ afterMs: number; got: string }>((resolve) => socket.on('close', () => resolve({ afterMs: Date.now() - t0, got })));
  return { socket, closed, connected };
}

async function until(done: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const stillOpen = (r: Raw, ms: number): Promise<boolean> => Promise.race([r.closed.then(() => false), new Promise<boolean>((res) => setTimeout(() => res(true), ms))]);

const call = (t: NatsTransport, to: string, code: number): Promise<Frame> => t.request(to, frame({ code }), { timeoutMs: 2000 });

beforeAll(async () => {
  server = await startNatsServer();
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const t of opened.splice(0)) await t.close().catch(() => undefined);
});

afterAll(async () => {
  await server?.stop();
});

describe('MessageReader limit', () => {
  test('can be raised between messages, also within one chunk', () => {
    const reader = new MessageReader(4);
    const got: number[] = [];
    reader.push(framed([Uint8Array.of(1, 2, 3, 4), new Uint8Array(100)]), (m) => {
      got.push(m.length);
      reader.limit = 1000;
    });
    expect(got).toEqual([4, 100]);
    reader.limit = 10;
    expect(() => reader.push(lengthPrefix(11), () => undefined)).toThrow(DirectProtocolError);
  });
});

describe('direct listener limits', () => {
  test('defaults: a few seconds and a few kilobytes for the hello, about a thousand connections', () => {
    expect(DEFAULT_HELLO_TIMEOUT_MS).toBeGreaterThanOrEqual(1000);
    expect(DEFAULT_HELLO_TIMEOUT_MS).toBeLessThanOrEqual(10_000);
    expect(DEFAULT_MAX_CONNECTIONS).toBe(1024);
    expect(MAX_HELLO_BYTES).toBeLessThanOrEqual(64 * 1024);
  });

  test('a connection that sends no hello, or only part of one, is closed after the hello timeout', async () => {
    const b = await open({ helloTimeoutMs: 300 });
    const sub = echo(b, 'svc.t');
    await b.flush();
    const quiet = connectRaw(b);
    const partial = connectRaw(b, lengthPrefix(40)); // announces a hello that never comes
    const [q, p] = await Promise.all([quiet.closed, partial.closed]);
    for (const c of [q, p]) {
      expect(c.got).toBe('');
      expect(c.afterMs).toBeGreaterThanOrEqual(250);
      expect(c.afterMs).toBeLessThan(2000);
    }
    expect(b.directStats?.cuts.silent).toBe(2);
    // a linked peer says hello in time and is not cut later
    const a = await open();
    expect(await a.linkTo('svc.t')).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect((await call(a, 'svc.t', 7)).code).toBe(7);
    expect(await a.linkTo('svc.t')).toBe(true);
    sub.unsubscribe();
  });

  test('a hello larger than MAX_HELLO_BYTES, or garbage, is cut at once, well below the payload limit', async () => {
    const b = await open({ helloTimeoutMs: 10_000 });
    const sub = echo(b, 'svc.h');
    await b.flush();
    const { token } = b.directEndpoint!;
    expect(b.maxPayload).toBeGreaterThan(MAX_HELLO_BYTES + 1);
    // announcing a large message is enough: the listener does not wait for (or hold) its bytes
    const huge = connectRaw(b, lengthPrefix(MAX_HELLO_BYTES + 1));
    const longAddress = connectRaw(b, framed([utf8.encode(`${token}\n${'a'.repeat(MAX_HELLO_BYTES)}`)]));
    const garbage = connectRaw(b, framed([Uint8Array.from({ length: 100 }, (_, i) => i)]));
    for (const r of [huge, longAddress, garbage]) {
      const c = await r.closed;
      expect(c.got).toBe('');
      expect(c.afterMs).toBeLessThan(2000);
    }
    expect(b.directStats?.cuts.badHello).toBe(3);
    // once linked, frames up to the payload limit pass: the small limit was for the hello only
    const a = await open();
    const big = new Uint8Array(b.maxPayload - 1024).fill(5);
    expect(await a.linkTo('svc.h')).toBe(true);
    const r = await a.request('svc.h', frame({ code: 8, body: big }), { timeoutMs: 5000 });
    expect(r.body.length).toBe(big.length);
    expect(await a.linkTo('svc.h')).toBe(true);
    sub.unsubscribe();
  });

  test('connections over maxConnections are closed at once; linked peers under it keep working', async () => {
    const b = await open({ maxConnections: 3, helloTimeoutMs: 10_000 });
    const sub = echo(b, 'svc.c');
    await b.flush();
    const a = await open();
    expect(await a.linkTo('svc.c')).toBe(true); // connection 1
    const idle = [connectRaw(b), connectRaw(b)]; // 2 and 3, before their hello
    await Promise.all(idle.map((r) => r.connected));
    await until(() => b.directStats?.connections === 3, 'three connections');
    const over = [connectRaw(b), connectRaw(b, framed([utf8.encode(`${b.directEndpoint!.token}\nsvc.c`)]))];
    for (const r of over) {
      const c = await r.closed;
      expect(c.got).toBe(''); // not even a valid hello is answered over the limit
      expect(c.afterMs).toBeLessThan(2000);
    }
    expect(b.directStats?.cuts.refused).toBe(2);
    // the ones under the limit are untouched
    expect(await Promise.all(idle.map((r) => stillOpen(r, 100)))).toEqual([true, true]);
    for (let i = 0; i < 20; i++) expect((await call(a, 'svc.c', i)).code).toBe(i);
    expect(await a.linkTo('svc.c')).toBe(true);
    // a requester refused at the limit stays on NATS; once a place is free, it links
    const c = await open();
    expect(await c.linkTo('svc.c')).toBe(false);
    expect((await call(c, 'svc.c', 30)).code).toBe(30);
    idle[0]!.socket.destroy();
    await until(() => b.directStats?.connections === 2, 'a free place');
    await new Promise((r) => setTimeout(r, 5100)); // a refused link is looked up again after a while
    expect(await c.linkTo('svc.c')).toBe(true);
    expect((await call(c, 'svc.c', 31)).code).toBe(31);
    sub.unsubscribe();
  }, 20_000);
});
