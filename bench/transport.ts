/**
 * Transport throughput: our frames over memory and over NATS, against core NATS publish/subscribe and
 * request/reply of the same payloads in the same run (the ceiling). Rates count frames at the receiving side:
 * received frames / time from the first send to the last receipt. Senders keep at most WINDOW frames in
 * flight, the same for every peer.
 *
 * `npm run bench -- transport [--json] [--ms 2000]`
 */
import { setImmediate as yieldToIo } from 'node:timers/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { RealClock } from '../core/clock.js';
import { CryptoRandom } from '../core/random.js';
import { frame, FrameKind } from '../transports/frame.js';
import { natsTransport } from '../transports/nats.js';
import type { Transport, TransportDeps, TransportFactory } from '../transports/transport.js';
import { atLeast, round, type Bench, type BenchContext } from './harness.js';
import { startNatsServer } from './nats-server.js';

const WINDOW = 20_000;
const BATCH = 500;
const CONCURRENCY = 64;

interface Rate {
  count: number;
  seconds: number;
  perSecond: number;
}

/** A one-way stream: `send` sends one message; the receiver calls `onReceive` once per message. */
interface OneWayPeer {
  send(): void;
  /** Installs the receive counter; returns a function that stops receiving. */
  listen(onReceive: () => void): Promise<() => void>;
}

async function oneWay(peer: OneWayPeer, ms: number): Promise<Rate> {
  let received = 0;
  let lastAt = 0n;
  let waitFor = Infinity;
  let wake: (() => void) | undefined;
  const stop = await peer.listen(() => {
    received++;
    if (received >= waitFor) {
      waitFor = Infinity;
      const w = wake;
      wake = undefined;
      w?.();
    }
  });
  const waitUntil = (n: number, maxMs: number): Promise<void> => {
    if (received >= n) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        wake = undefined;
        waitFor = Infinity;
        resolve();
      }, maxMs);
      waitFor = n;
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  };
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(ms)) * 1_000_000n;
  let sent = 0;
  while (process.hrtime.bigint() < deadline) {
    for (let i = 0; i < BATCH; i++) peer.send();
    sent += BATCH;
    if (sent - received > WINDOW) await waitUntil(sent - WINDOW / 2, 5000);
    else await yieldToIo();
  }
  await waitUntil(sent, 10_000);
  lastAt = process.hrtime.bigint();
  stop();
  const seconds = Number(lastAt - start) / 1e9;
  return { count: received, seconds, perSecond: received / seconds };
}

/** Request/reply: `concurrency` callers, each awaiting its reply before the next request. */
async function roundTrips(request: () => Promise<unknown>, ms: number, concurrency: number): Promise<Rate> {
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let count = 0;
  const worker = async (): Promise<void> => {
    while (process.hrtime.bigint() < deadline) {
      await request();
      count++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { count, seconds, perSecond: count / seconds };
}

function ourOneWay(a: Transport, b: Transport, address: string, size: number): OneWayPeer {
  const f = frame({ code: 1, kind: FrameKind.OneWay, body: new Uint8Array(size).fill(7) });
  return {
    send: () => a.send(address, f),
    listen: async (onReceive) => {
      const sub = b.inbox(address).subscribe(onReceive);
      await b.flush();
      return () => sub.unsubscribe();
    },
  };
}

function coreOneWay(pub: NatsConnection, sub: NatsConnection, subject: string, size: number): OneWayPeer {
  const payload = new Uint8Array(size).fill(7);
  return {
    send: () => pub.publish(subject, payload),
    listen: async (onReceive) => {
      // A consumer reads what it receives: the baseline takes each message's payload, as ours decodes it.
      let bytes = 0;
      const s = sub.subscribe(subject, {
        callback: (_e, m) => {
          bytes += m.data.length;
          onReceive();
        },
      });
      await sub.flush();
      return () => s.unsubscribe();
    },
  };
}

function ourRequest(a: Transport, b: Transport, address: string, size: number): { request: () => Promise<unknown>; stop: () => void } {
  const body = new Uint8Array(size).fill(7);
  const f = frame({ code: 1, body });
  const sub = b.inbox(address).subscribe((i) => i.reply?.(frame({ code: 1, body: i.frame.body })));
  return { request: () => a.request(address, f, { timeoutMs: 5000 }), stop: () => sub.unsubscribe() };
}

function coreRequest(a: NatsConnection, b: NatsConnection, subject: string, size: number): { request: () => Promise<unknown>; stop: () => void } {
  const payload = new Uint8Array(size).fill(7);
  const s = b.subscribe(subject, { callback: (_e, m) => void m.respond(m.data) });
  return { request: () => a.request(subject, payload, { timeout: 5000 }), stop: () => s.unsubscribe() };
}

async function loadMemoryTransport(): Promise<TransportFactory | undefined> {
  const url = new URL('../transports/memory.js', import.meta.url).href;
  try {
    const mod = (await import(url)) as { memoryTransport?: (opts?: unknown) => TransportFactory };
    return mod.memoryTransport?.();
  } catch {
    return undefined;
  }
}

const bench: Bench = async (ctx: BenchContext) => {
  const msArg = ctx.args.indexOf('--ms');
  const ms = msArg >= 0 ? Number(ctx.args[msArg + 1]) : 2000;
  const deps: TransportDeps = { clock: new RealClock(), random: new CryptoRandom(), logger: pino({ level: 'silent' }) };
  const figures: Record<string, unknown> = { durationMs: ms, window: WINDOW };
  const table: Array<Record<string, string | number>> = [];
  const row = (name: string, r: Rate, peer?: Rate): void => {
    figures[name] = { perSecond: round(r.perSecond, 0), count: r.count, seconds: round(r.seconds) };
    table.push({ measure: name, 'per second': round(r.perSecond, 0), ...(peer ? { 'ratio to core NATS': round(r.perSecond / peer.perSecond) } : {}) });
  };

  const memory = await loadMemoryTransport();
  if (memory) {
    const m = await memory(deps);
    ctx.progress('memory one-way 100 B');
    row('memory one-way 100B', await oneWay(ourOneWay(m, m, 'bench.mem', 100), ms));
    ctx.progress('memory request/reply 100 B');
    const rr = ourRequest(m, m, 'bench.mem.rr', 100);
    row('memory request/reply 100B x1', await roundTrips(rr.request, ms, 1));
    rr.stop();
    await m.close();
  } else {
    figures.memory = 'transports/memory.ts not available';
  }

  const server = await startNatsServer();
  const natsOpts = { servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 };
  const a = await natsTransport({ servers: server.url, prefix: 'bench' })(deps);
  const b = await natsTransport({ servers: server.url, prefix: 'bench' })(deps);
  const pub = await connect(natsOpts);
  const sub = await connect(natsOpts);
  try {
    // one-way: short rounds alternating ours and core NATS (the machine may be shared); the best of each counts
    for (const size of [100, 1024]) {
      const rounds = size === 100 ? 6 : 4;
      ctx.progress(`one-way ${size} B: ours vs core NATS, ${rounds} rounds each`);
      const label = size === 100 ? '100B' : '1KiB';
      let ours: Rate | undefined;
      let core: Rate | undefined;
      for (let r = 0; r < rounds; r++) {
        const o = await oneWay(ourOneWay(a, b, `ow.${size}`, size), ms / 2);
        const c = await oneWay(coreOneWay(pub, sub, `core.ow.${size}`, size), ms / 2);
        if (!ours || o.perSecond > ours.perSecond) ours = o;
        if (!core || c.perSecond > core.perSecond) core = c;
      }
      row(`core NATS one-way ${label}`, core!);
      row(`nats one-way ${label}`, ours!, core!);
      figures[`ratio nats/core one-way ${label}`] = round(ours!.perSecond / core!.perSecond);
    }
    for (const concurrency of [1, CONCURRENCY]) {
      ctx.progress(`request/reply 100 B x${concurrency}: ours vs core NATS`);
      const o = ourRequest(a, b, `rr.${concurrency}`, 100);
      const c = coreRequest(pub, sub, `core.rr.${concurrency}`, 100);
      await Promise.all([b.flush(), sub.flush()]);
      const core = await roundTrips(c.request, ms, concurrency);
      const ours = await roundTrips(o.request, ms, concurrency);
      o.stop();
      c.stop();
      row(`core NATS request/reply 100B x${concurrency}`, core);
      row(`nats request/reply 100B x${concurrency}`, ours, core);
      figures[`ratio nats/core request/reply 100B x${concurrency}`] = round(ours.perSecond / core.perSecond);
    }
  } finally {
    await Promise.all([a.close(), b.close(), pub.close(), sub.close()]);
    await server.stop();
  }
  const ratio = figures['ratio nats/core one-way 100B'] as number;
  return { figures, table, goals: [atLeast('nats one-way 100B / core NATS', ratio, 0.8, 'ratio')] };
};

export default bench;
