/**
 * Hostile frames against a live name server and broker, in one process on the memory transport and then over
 * NATS: every request code (and unknown ones) with hostile headers and bodies (scenarios/frame-fuzz.ts). Goals:
 * no process death (no uncaught exception or unhandled rejection), no actor stopped, every request answered with
 * a status, the longest event-loop stall while fuzzing at most 50 ms, and an ordinary produce and consume round
 * afterwards on each transport. Over NATS, mangled wire bytes also go straight onto the subjects (truncated,
 * bit-flipped, lengthened, lying lengths): each that must be answered is.
 *
 * `npm run bench -- fuzz [--json] [--frames 100000] [--seed 1] [--minutes 10]`
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino from 'pino';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSystem, memoryTransport, natsTransport, type TransportFactory } from '../index.js';
import { SeededRandom } from '../core/random.js';
import { connect } from '@nats-io/transport-node';
import { clusterTargets, ordinaryRound, runFrameFuzz, runWireFuzz, type FuzzCounts, type WireFuzzCounts } from '../scenarios/frame-fuzz.js';
import { atLeast, atMost, type Bench, type BenchContext } from './harness.js';
import { startNatsServer } from './nats-server.js';

function argNum(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : dflt;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

interface Phase {
  transport: string;
  counts: FuzzCounts;
  /** Mangled wire bytes sent straight onto the NATS subjects (NATS only). */
  wire?: WireFuzzCounts;
  seconds: number;
  maxStallMs: number;
  p99StallMs: number;
  actorsStopped: number;
  roundPassed: boolean;
  roundError?: string;
}

async function phase(name: string, transport: TransportFactory, frames: number, seed: number, deadline: number, ctx: BenchContext, wire?: { url: string; prefix: string; frames: number }): Promise<Phase> {
  // the broker stores on disk, as a real one does (a store in memory stalls the loop on its own collections)
  const dir = mkdtempSync(join(tmpdir(), 'mq-fuzz-'));
  const system = await startSystem({ transport, logger: pino({ level: 'silent' }) });
  try {
    const ns = await system.spawnNameServer({ id: 'fz-ns' });
    const broker = await system.spawnBroker({ name: 'fz', namesrv: ['fz-ns'], storeDir: join(dir, 'fz'), maxSuspendMs: 500, segmentSize: 64 << 20 });
    // the histogram holds each timer's whole interval: a stall is what it took beyond the resolution
    const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    const started = process.hrtime.bigint();
    loop.enable();
    const counts = await runFrameFuzz({
      transport: system.env.transport,
      random: new SeededRandom(seed),
      targets: clusterTargets(['fz'], ['fz-ns']),
      frames,
      timeoutMs: 5000,
      deadline,
      every: 10_000,
      progress: (c) => ctx.progress(`${name}: ${c.frames} frames, ${c.answered} answered, ${c.unanswered} unanswered`),
    });
    let wireCounts: WireFuzzCounts | undefined;
    if (wire) {
      const nc = await connect({ servers: wire.url });
      try {
        wireCounts = await runWireFuzz({ wire: nc, prefix: wire.prefix, random: new SeededRandom(seed + 100), targets: clusterTargets(['fz'], ['fz-ns']), frames: wire.frames, deadline });
      } finally {
        await nc.close();
      }
      ctx.progress(`${name}: ${wireCounts.frames} mangled wire frames, ${wireCounts.answered} of ${wireCounts.expected} answered`);
    }
    loop.disable();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const actorsStopped = (broker.state() === 'serving' ? 0 : 1) + (ns.actor.getSnapshot().status === 'active' ? 0 : 1);
    let roundPassed = false;
    let roundError: string | undefined;
    try {
      const r = await ordinaryRound(system, ['fz-ns'], 'after-fuzz');
      roundPassed = r.acked === r.consumed;
    } catch (err) {
      roundError = err instanceof Error ? err.message : String(err);
    }
    ctx.progress(`${name}: ${counts.frames} frames in ${seconds.toFixed(1)} s, longest stall ${stallMs(loop.max).toFixed(1)} ms, ordinary round ${roundPassed ? 'passed' : `failed: ${roundError}`}`);
    return { transport: name, counts, ...(wireCounts ? { wire: wireCounts } : {}), seconds, maxStallMs: stallMs(loop.max), p99StallMs: stallMs(loop.percentile(99)), actorsStopped, roundPassed, ...(roundError ? { roundError } : {}) };
  } finally {
    await system.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const RESOLUTION_MS = 5;
const stallMs = (ns: number): number => Math.max(0, ns / 1e6 - RESOLUTION_MS);

const bench: Bench = async (ctx: BenchContext) => {
  const frames = argNum(ctx.args, '--frames', 100_000);
  const seed = argNum(ctx.args, '--seed', 1);
  const deadline = Date.now() + argNum(ctx.args, '--minutes', 10) * 60_000;
  // a death of the broker's process would be one of these (nothing else in this process throws them)
  const deaths: string[] = [];
  const onDeath = (err: unknown): void => {
    deaths.push(err instanceof Error ? (err.stack ?? err.message) : String(err));
  };
  process.on('uncaughtException', onDeath);
  process.on('unhandledRejection', onDeath);
  const phases: Phase[] = [];
  try {
    phases.push(await phase('memory', memoryTransport(), Math.ceil(frames / 2), seed, deadline, ctx));
    const nats = await startNatsServer();
    try {
      const wire = { url: nats.url, prefix: 'fuzz', frames: Math.ceil(frames / 5) };
      phases.push(await phase('nats', natsTransport({ servers: nats.url, prefix: 'fuzz', direct: false }), Math.floor(frames / 2), seed + 1, deadline, ctx, wire));
    } finally {
      await nats.stop();
    }
  } finally {
    process.off('uncaughtException', onDeath);
    process.off('unhandledRejection', onDeath);
  }
  const sum = (f: (p: Phase) => number): number => phases.reduce((s, p) => s + f(p), 0);
  const sent = sum((p) => p.counts.frames + (p.wire?.frames ?? 0));
  return {
    figures: { frames: sent, seed, deaths, phases },
    goals: [
      atLeast('frames sent', sent, 100_000, 'frames'),
      atMost('broker process deaths (uncaught exceptions, unhandled rejections)', deaths.length, 0, 'deaths'),
      atMost('actors stopped', sum((p) => p.actorsStopped), 0, 'actors'),
      atMost('requests without a status reply', sum((p) => p.counts.unanswered + (p.wire?.unanswered ?? 0)), 0, 'requests'),
      atMost('longest event-loop stall while fuzzing', Math.max(...phases.map((p) => p.maxStallMs)), 50, 'ms'),
      atLeast('ordinary produce/consume round afterwards', sum((p) => (p.roundPassed ? 1 : 0)), 2, 'transports'),
    ],
    table: phases.map((p) => ({
      transport: p.transport,
      frames: p.counts.frames,
      'wire frames': p.wire?.frames ?? 0,
      requests: p.counts.requests,
      answered: p.counts.answered,
      unanswered: p.counts.unanswered + (p.wire?.unanswered ?? 0),
      'refused by sender': p.counts.refusedBySender,
      'frames/s': Math.round(p.counts.frames / p.seconds),
      'max stall ms': p.maxStallMs,
      'p99 stall ms': p.p99StallMs,
      'round': p.roundPassed ? 'passed' : 'FAILED',
    })),
  };
};

export default bench;
