/*
 * Store modes side by side, the seed's question measured: one commit log for every queue ('mixed', RocketMQ's)
 * against a log per queue ('per-queue', as Kafka's partitions). Each mode is the other's peer, in the same run.
 * For 1, 100, 1,000 and 8,000 queues, async and sync flush, 100 B and 1 KiB messages, each store in a process of
 * its own on the real disk (bench/store-modes-procs/store-run.ts):
 *  - a first batch to every queue (what making a queue's files, and per queue its log, costs);
 *  - then batches of 32 messages, one queue per batch, round-robin over the queues, 32 in flight, for --ms:
 *    throughput, append latency p99 (a batch's put to its answer), peak RSS and open descriptors;
 *  - the process SIGKILLed, the store opened again in a new one: recovery time, and every queue and every
 *    acknowledged message found.
 * Options: --ms=N (default 2000), --queues=1,100,1000,8000, --sizes=100,1024, --flush=async,sync.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child } from './child.js';
import { atLeast, option, round, type Bench, type BenchContext, type Goal } from './harness.js';
import type { RecoverResult, StoreRunArgs, WriteResult } from './store-modes-procs/store-run.js';
import type { StoreMode } from '../store/open-store.js';

const here = dirname(fileURLToPath(import.meta.url));
const MiB = 1024 * 1024;
const MODES: StoreMode[] = ['mixed', 'per-queue'];
const BATCH = 32;
const IN_FLIGHT = 32;

interface Run extends WriteResult, RecoverResult {
  mode: StoreMode;
  queues: number;
  flush: 'sync' | 'async';
  msgBytes: number;
}

const list = (v: string | undefined, d: number[]): number[] => (v === undefined ? d : v.split(',').map(Number));

/** Starts the store process for `args` and waits for its result: the JSON line with `key` (log lines are JSON too). */
async function child<T>(name: string, args: StoreRunArgs, key: keyof T & string, timeoutMs: number): Promise<{ result: T; proc: Child }> {
  const proc = new Child(name, [join(here, 'store-modes-procs', 'store-run.js'), JSON.stringify(args)]);
  const result = await proc.line((l) => (l.startsWith('{') && l.includes(`"${key}":`) ? (JSON.parse(l) as T) : undefined), timeoutMs, `the ${args.phase} result`);
  return { result, proc };
}

async function killed(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const gone = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGKILL');
  await gone;
}

async function measure(base: Omit<StoreRunArgs, 'phase' | 'dir'>, progress: (m: string) => void): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'actormq-store-modes-'));
  const label = `${base.mode} ${base.queues} queues ${base.flush} ${base.msgBytes} B`;
  try {
    const timeout = 180_000 + base.ms;
    const w = await child<WriteResult>(`${label} writer`, { ...base, phase: 'write', dir }, 'perSecond', timeout);
    await killed(w.proc);
    const r = await child<RecoverResult>(`${label} recovery`, { ...base, phase: 'recover', dir }, 'recoveryMs', timeout);
    await killed(r.proc);
    const run: Run = { mode: base.mode, queues: base.queues, flush: base.flush, msgBytes: base.msgBytes, ...w.result, ...r.result };
    progress(`${label}: ${Math.round(run.perSecond).toLocaleString('en-US')} msgs/s, append p99 ${round(run.appendP99, 1)} ms, made in ${Math.round(run.createMs)} ms, recovered in ${Math.round(run.recoveryMs)} ms`);
    return run;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const bench: Bench = async (ctx: BenchContext) => {
  const ms = Number(option(ctx.args, 'ms') ?? 2000);
  const queueCounts = list(option(ctx.args, 'queues'), [1, 100, 1000, 8000]);
  const sizes = list(option(ctx.args, 'sizes'), [100, 1024]);
  const flushes = (option(ctx.args, 'flush') ?? 'async,sync').split(',') as ('sync' | 'async')[];
  const runs: Run[] = [];
  for (const flush of flushes) {
    for (const msgBytes of sizes) {
      for (const queues of queueCounts) {
        for (const mode of MODES) runs.push(await measure({ mode, queues, flush, msgBytes, ms, batch: BATCH, inFlight: IN_FLIGHT }, ctx.progress));
      }
    }
  }
  const pairs = runs.filter((r) => r.mode === 'mixed').map((m) => ({ m, p: runs.find((r) => r.mode === 'per-queue' && r.queues === m.queues && r.flush === m.flush && r.msgBytes === m.msgBytes)! }));
  const table = pairs.map(({ m, p }) => ({
    flush: m.flush,
    size: m.msgBytes,
    queues: m.queues,
    'mixed msgs/s': Math.round(m.perSecond),
    'per-queue msgs/s': Math.round(p.perSecond),
    'ratio pq/mixed': round(p.perSecond / m.perSecond, 2),
    'p99 ms mixed/pq': `${round(m.appendP99, 1)} / ${round(p.appendP99, 1)}`,
    'RSS MiB mixed/pq': `${Math.round(m.rssPeakBytes / MiB)} / ${Math.round(p.rssPeakBytes / MiB)}`,
    'fds mixed/pq': `${m.fdsPeak} / ${p.fdsPeak}`,
    'made ms mixed/pq': `${Math.round(m.createMs)} / ${Math.round(p.createMs)}`,
    'recovery ms mixed/pq': `${Math.round(m.recoveryMs)} / ${Math.round(p.recoveryMs)}`,
  }));
  // every queue, and every acknowledged message (a SIGKILL keeps the page cache), is there after the crash
  const found = Math.min(...runs.map((r) => Math.min(r.queuesFound / r.queues, r.messagesFound / (r.messages + r.queues * BATCH))));
  const goals: Goal[] = [
    atLeast('configurations measured in both modes', pairs.filter(({ p }) => p !== undefined).length, flushes.length * sizes.length * queueCounts.length, 'pairs'),
    atLeast('queues and acknowledged messages found after a SIGKILL (worst run)', found, 1, 'ratio'),
  ];
  return { figures: { ms, batch: BATCH, inFlight: IN_FLIGHT, runs }, goals, table };
};

export default bench;
