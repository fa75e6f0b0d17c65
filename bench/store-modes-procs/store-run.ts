#!/usr/bin/env node
/**
 * One store in its own process, so that its memory and descriptors are measured alone (the store-modes benchmark,
 * bench/store-modes.ts, runs it per configuration):
 *   node store-run.js '<json: StoreRunArgs>'
 * - `write`: opens a store (disk, `dir`), writes one batch to each queue (the queues' files and, per queue, logs
 *   are made), then for `ms` keeps batches in flight, one queue per batch, round-robin over the queues; prints one
 *   JSON line (WriteResult) and waits to be killed (SIGKILL: the crash recovery is timed on).
 * - `recover`: opens the store the killed writer left, timed, checks every queue is there, prints RecoverResult.
 */
import { readdirSync } from 'node:fs';
import { RealClock } from '../../core/clock.js';
import { rootLogger } from '../../actors/runtime/environment.js';
import { CryptoRandom } from '../../core/random.js';
import { diskStorage } from '../../store/backends/disk.js';
import type { MessageStore, PutMessage } from '../../store/message-store.js';
import { openStore, type StoreMode } from '../../store/open-store.js';
import { Status } from '../../core/status.js';

export interface StoreRunArgs {
  phase: 'write' | 'recover';
  mode: StoreMode;
  dir: string;
  queues: number;
  flush: 'sync' | 'async';
  msgBytes: number;
  /** Measuring time (ms). */
  ms: number;
  batch: number;
  inFlight: number;
}

export interface WriteResult {
  /** Time to write the first batch to every queue (ms). */
  createMs: number;
  /** Batches answered SYSTEM_BUSY and sent again. */
  busy: number;
  messages: number;
  perSecond: number;
  /** Append latency (put call to its answer) per batch, ms. */
  appendP50: number;
  appendP99: number;
  rssPeakBytes: number;
  fdsPeak: number;
  fdsEnd: number;
}

export interface RecoverResult {
  recoveryMs: number;
  queuesFound: number;
  messagesFound: number;
}

const openFds = (): number => readdirSync('/proc/self/fd').length;
const nowMs = (): number => performance.now();

function open(a: StoreRunArgs): Promise<MessageStore> {
  return openStore({
    storeMode: a.mode,
    dir: a.dir,
    storage: diskStorage(),
    clock: new RealClock(),
    random: new CryptoRandom(),
    logger: rootLogger('warn'),
    storeHost: '127.0.0.1:10911',
    flush: a.flush,
  });
}

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function write(a: StoreRunArgs): Promise<WriteResult> {
  const body = new Uint8Array(a.msgBytes).map((_, i) => (i * 31 + 7) & 0xff);
  const topicOf = (q: number): string => `T${Math.floor(q / 8)}`;
  const batches: PutMessage[][] = Array.from({ length: a.queues }, (_, q) =>
    Array.from({ length: a.batch }, () => ({ topic: topicOf(q), queueId: q % 8, body, tags: 'TagA', bornTimestamp: 1_700_000_000_000, bornHost: '10.0.0.1:50000' })),
  );
  const store = await open(a);
  let fdsPeak = openFds();
  let rssPeak = process.memoryUsage.rss();
  const sample = setInterval(() => {
    fdsPeak = Math.max(fdsPeak, openFds());
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }, 100);
  let busy = 0;
  // SYSTEM_BUSY (too much waits for a flush) is backpressure: the batch is sent again a moment later
  const put = async (q: number): Promise<void> => {
    for (;;) {
      const r = await store.putMessages(batches[q]!);
      if (r.status === Status.OK) return;
      if (r.status !== Status.SYSTEM_BUSY) throw new Error(`put failed: ${r.status} ${r.message}`);
      busy++;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  };
  // every queue gets its first batch: files (and, per queue, logs) are made here, as many at once as in flight
  const t0 = nowMs();
  for (let q = 0; q < a.queues; q += a.inFlight) await Promise.all(Array.from({ length: Math.min(a.inFlight, a.queues - q) }, (_, i) => put(q + i)));
  const createMs = nowMs() - t0;
  const lat: number[] = [];
  let messages = 0;
  let next = 0;
  const start = nowMs();
  const end = start + a.ms;
  const lane = async (): Promise<void> => {
    while (nowMs() < end) {
      const q = next++ % a.queues;
      const t = nowMs();
      await put(q);
      lat.push(nowMs() - t);
      messages += a.batch;
    }
  };
  await Promise.all(Array.from({ length: a.inFlight }, lane));
  const seconds = (nowMs() - start) / 1000;
  clearInterval(sample);
  lat.sort((x, y) => x - y);
  return { createMs, busy, messages, perSecond: messages / seconds, appendP50: pct(lat, 50), appendP99: pct(lat, 99), rssPeakBytes: rssPeak, fdsPeak: Math.max(fdsPeak, openFds()), fdsEnd: openFds() };
}

async function recover(a: StoreRunArgs): Promise<RecoverResult> {
  const t0 = nowMs();
  const store = await open(a);
  const recoveryMs = nowMs() - t0;
  const queues = store.queueList();
  const result = { recoveryMs, queuesFound: queues.length, messagesFound: queues.reduce((n, q) => n + q.maxOffset, 0) };
  await store.close();
  return result;
}

const args = JSON.parse(process.argv[2]!) as StoreRunArgs;
if (args.phase === 'write') {
  write(args).then(
    (r) => {
      process.stdout.write(JSON.stringify(r) + '\n');
      setInterval(() => undefined, 60_000); // killed by the benchmark: the crash
    },
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
} else {
  recover(args).then(
    (r) => {
      process.stdout.write(JSON.stringify(r) + '\n');
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
