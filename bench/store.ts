/*
 * Store benchmark, on the real disk in a temp dir (removed at the end). In one run:
 *  - a raw baseline: a plain loop that encodes length-prefixed records with a CRC (zlib.crc32) into large
 *    buffers and writes them with fs.writeSync; its records have exactly the size of the store's records,
 *    so both move the same bytes;
 *  - store append of 100-byte and 1 KiB messages, async flush and sync flush (64 batches in flight), in
 *    realistic broker batches (one queue per batch, several batches in flight, new batches arriving on
 *    later event loop turns as they would from the network);
 *  - dispatcher lag: from a batch's acknowledgement until its consume queue entries are written;
 *  - read-back: pulling every appended message back through getMessages;
 *  - peak RSS while appending 2 GiB through 64 MiB segments.
 * Options: --ms=N (time per append phase, default 3000), --rss-bytes=N (default 2 GiB, at most 30 s).
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { RealClock } from '../core/clock.js';
import { rootLogger } from '../actors/runtime/environment.js';
import { CryptoRandom } from '../core/random.js';
import { diskStorage } from '../store/backends/disk.js';
import { openMessageStore, type MessageStore, type PutMessage } from '../store/message-store.js';
import { atLeast, atMost, percentile, round, type Bench, type BenchContext } from './harness.js';

const TOPIC = 'bench';
const QUEUES = 8;
/** Messages per putMessages call (a producer batch as a broker receives it). */
const BATCH = 256;
/** Async flush: batches in flight (several producer connections). */
const ASYNC_IN_FLIGHT = 8;
/** Sync flush: batches in flight, as the issue sets. */
const SYNC_IN_FLIGHT = 64;
const MiB = 1024 * 1024;

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

function crc32(data: Uint8Array, value = 0): number {
  return (zlib as unknown as { crc32: (d: Uint8Array, v?: number) => number }).crc32(data, value);
}

async function openStore(dir: string, flush: 'sync' | 'async', segmentSize: number): Promise<MessageStore> {
  return openMessageStore({
    dir,
    storage: diskStorage(),
    clock: new RealClock(),
    random: new CryptoRandom(),
    logger: rootLogger('warn'),
    storeHost: '127.0.0.1:10911',
    flush,
    segmentSize,
  });
}

/** Batches for `queues` queues, each batch to one queue (as a producer sends them). */
function makeBatches(msgBytes: number, batchSize: number, queues: number): PutMessage[][] {
  const body = new Uint8Array(msgBytes);
  for (let i = 0; i < msgBytes; i++) body[i] = (i * 31 + 7) & 0xff;
  return Array.from({ length: queues }, (_, q) =>
    Array.from({ length: batchSize }, () => ({ topic: TOPIC, queueId: q, body, tags: 'TagA', bornTimestamp: 1_700_000_000_000, bornHost: '10.0.0.1:50000' })),
  );
}

interface AppendRun {
  messages: number;
  bytes: number;
  seconds: number;
  perSecond: number;
  recordBytes: number;
  busyRetries: number;
  lagMs: number[];
  peakRssMiB: number;
  /** CPU time (user + system) of the process per message while measuring. */
  cpuUsPerMsg: number;
}

/**
 * Keeps `inFlight` batches in flight for `ms` (after `warmupMs` not counted) or until `maxBytes` record
 * bytes are stored. Each acknowledgement lets a new batch in on a later event loop turn (setImmediate), as
 * batches from the network would. Measures dispatcher lag and samples RSS.
 */
async function pump(store: MessageStore, batches: PutMessage[][], inFlight: number, ms: number, warmupMs: number, maxBytes = Infinity, sampleRss = false): Promise<AppendRun> {
  const t0 = nowMs();
  let measureFrom = t0 + warmupMs;
  const deadline = measureFrom + ms;
  let counted = 0;
  let countedBytes = 0;
  let totalBytes = 0;
  let recordBytes = 0;
  let busy = 0;
  let next = 0;
  let active = 0;
  let ready = 0;
  let stop = false;
  let failure: Error | undefined;
  let peakRss = process.memoryUsage.rss();
  let acks = 0;
  let lastAck = measureFrom;
  let cpuFrom: NodeJS.CpuUsage | undefined;
  let cpuUsed = 0;
  // Dispatcher lag: acknowledged batches (end offset, time) not yet indexed.
  const lagMs: number[] = [];
  const pendingEnd: number[] = [];
  const pendingAt: number[] = [];
  let head = 0;
  const settleLag = (): void => {
    const dispatched = store.positions().dispatched;
    const t = nowMs();
    while (head < pendingEnd.length && pendingEnd[head]! <= dispatched) {
      if (pendingAt[head]! >= measureFrom) lagMs.push(t - pendingAt[head]!);
      head++;
    }
    if (head > 4096) {
      pendingEnd.splice(0, head);
      pendingAt.splice(0, head);
      head = 0;
    }
  };
  const sub = store.newData$.subscribe(settleLag);

  return new Promise<AppendRun>((resolve, reject) => {
    let scheduled = false;
    const finish = (): void => {
      sub.unsubscribe();
      if (failure) return reject(failure);
      const seconds = Math.max(1e-3, (lastAck - measureFrom) / 1000);
      resolve({ messages: counted, bytes: countedBytes, seconds, perSecond: counted / seconds, recordBytes, busyRetries: busy, lagMs, peakRssMiB: peakRss / MiB, cpuUsPerMsg: cpuUsed / Math.max(1, counted) });
    };
    const issue = (): void => {
      const b = batches[next++ % batches.length]!;
      active++;
      store.putMessages(b).then((r) => {
        active--;
        if (r.status !== 0) {
          if (r.message?.includes('busy')) busy++;
          else failure ??= new Error(`put failed: ${r.status} ${r.message}`);
        } else {
          // the compact form: no result object or msgId per message
          const clOffsets = r.commitLogOffsets!;
          const sizes = r.sizes!;
          const n = clOffsets.length;
          const last = { commitLogOffset: clOffsets[n - 1]!, size: sizes[n - 1]! };
          recordBytes = last.size;
          const bytes = last.commitLogOffset + last.size - clOffsets[0]!;
          totalBytes += bytes;
          const t = nowMs();
          if (t >= measureFrom) {
            cpuFrom ??= process.cpuUsage();
            counted += n;
            countedBytes += bytes;
            lastAck = t;
            const c = process.cpuUsage(cpuFrom);
            cpuUsed = c.user + c.system;
          }
          if (store.positions().dispatched >= last.commitLogOffset + last.size) {
            if (t >= measureFrom) lagMs.push(0);
          } else {
            pendingEnd.push(last.commitLogOffset + last.size);
            pendingAt.push(t);
          }
          if (sampleRss && (++acks & 7) === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
          if (t >= deadline || totalBytes >= maxBytes) stop = true;
        }
        if (failure) stop = true;
        if (!stop) {
          ready++;
          if (!scheduled) {
            scheduled = true;
            setImmediate(refill);
          }
        } else if (active === 0) {
          finish();
        }
      }, reject);
    };
    const refill = (): void => {
      scheduled = false;
      const n = ready;
      ready = 0;
      if (stop) {
        if (active === 0) finish();
        return;
      }
      for (let i = 0; i < n; i++) issue();
    };
    for (let i = 0; i < inFlight; i++) issue();
  });
}

/** Reads every message of every queue back through getMessages; messages per second. */
function readBack(store: MessageStore, queues: number, pullBatch: number): { messages: number; seconds: number; perSecond: number; bodyBytes: number } {
  const t0 = nowMs();
  let messages = 0;
  let bodyBytes = 0;
  for (let q = 0; q < queues; q++) {
    let offset = store.minOffset(TOPIC, q);
    const max = store.maxOffset(TOPIC, q);
    while (offset < max) {
      const r = store.getMessages({ topic: TOPIC, queueId: q, offset, maxCount: pullBatch });
      if (r.status !== 'FOUND') throw new Error(`read-back of ${TOPIC}/${q} at ${offset}: ${r.status}`);
      for (const m of r.messages) bodyBytes += m.body.length;
      messages += r.messages.length;
      offset = r.nextOffset;
    }
  }
  const seconds = (nowMs() - t0) / 1000;
  return { messages, seconds, perSecond: messages / seconds, bodyBytes };
}

/** The raw baseline: length + CRC + payload records of `recordBytes`, encoded into 4 MiB buffers, writeSync. */
function rawBaseline(path: string, recordBytes: number, ms: number, fileBytes: number): { perSecond: number; bytesPerSecond: number; cpuUsPerMsg: number } {
  const perBuf = Math.max(1, Math.floor((4 * MiB) / recordBytes));
  const buf = Buffer.allocUnsafe(perBuf * recordBytes);
  const payload = new Uint8Array(recordBytes - 8);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
  let fd = openSync(`${path}.0`, 'w');
  let file = 0;
  let pos = 0;
  let records = 0;
  const run = (until: number): void => {
    while (nowMs() < until) {
      for (let i = 0, p = 0; i < perBuf; i++, p += recordBytes) {
        buf.writeUInt32BE(recordBytes, p);
        buf.set(payload, p + 8);
        buf.writeUInt32BE(crc32(buf.subarray(p + 8, p + recordBytes), crc32(buf.subarray(p, p + 4))), p + 4);
      }
      if (pos + buf.length > fileBytes) {
        closeSync(fd);
        fd = openSync(`${path}.${++file}`, 'w');
        pos = 0;
      }
      let done = 0;
      while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, pos + done);
      pos += buf.length;
      records += perBuf;
    }
  };
  run(nowMs() + 300); // warm-up
  records = 0;
  const cpu0 = process.cpuUsage();
  const t0 = nowMs();
  run(t0 + ms);
  const seconds = (nowMs() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  closeSync(fd);
  for (let i = 0; i <= file; i++) rmSync(`${path}.${i}`, { force: true });
  return { perSecond: records / seconds, bytesPerSecond: (records * recordBytes) / seconds, cpuUsPerMsg: (cpu.user + cpu.system) / records };
}

interface SizeFigures {
  recordBytes: number;
  rawMsgsPerSec: number;
  rawMBPerSec: number;
  rawCpuUsPerMsg: number;
  asyncCpuUsPerMsg: number;
  syncCpuUsPerMsg: number;
  asyncMsgsPerSec: number;
  asyncMBPerSec: number;
  asyncBusyRetries: number;
  syncMsgsPerSec: number;
  syncMBPerSec: number;
  syncBusyRetries: number;
  readBackMsgsPerSec: number;
  readBackMessages: number;
  asyncLagP99Ms: number;
  asyncLagMaxMs: number;
  syncLagP99Ms: number;
  syncLagMaxMs: number;
}

async function measureSize(ctx: BenchContext, root: string, msgBytes: number, ms: number): Promise<SizeFigures> {
  const segmentSize = 256 * MiB;
  const batches = makeBatches(msgBytes, BATCH, QUEUES);

  ctx.progress(`${msgBytes} B: store, async flush, ${ASYNC_IN_FLIGHT} batches of ${BATCH} in flight`);
  const asyncStore = await openStore(`${root}/async-${msgBytes}`, 'async', segmentSize);
  const a = await pump(asyncStore, batches, ASYNC_IN_FLIGHT, ms, 500);
  ctx.progress(`${msgBytes} B: read-back`);
  const rb = readBack(asyncStore, QUEUES, 256);
  await asyncStore.close();
  rmSync(`${root}/async-${msgBytes}`, { recursive: true, force: true });

  ctx.progress(`${msgBytes} B: raw baseline (${a.recordBytes}-byte records)`);
  const raw = rawBaseline(`${root}/raw-${msgBytes}`, a.recordBytes, Math.min(ms, 2500), segmentSize);

  ctx.progress(`${msgBytes} B: store, sync flush, ${SYNC_IN_FLIGHT} batches of ${BATCH} in flight`);
  const syncStore = await openStore(`${root}/sync-${msgBytes}`, 'sync', segmentSize);
  const s = await pump(syncStore, batches, SYNC_IN_FLIGHT, ms, 500);
  await syncStore.close();
  rmSync(`${root}/sync-${msgBytes}`, { recursive: true, force: true });

  return {
    recordBytes: a.recordBytes,
    rawMsgsPerSec: raw.perSecond,
    rawMBPerSec: raw.bytesPerSecond / 1e6,
    rawCpuUsPerMsg: raw.cpuUsPerMsg,
    asyncCpuUsPerMsg: a.cpuUsPerMsg,
    syncCpuUsPerMsg: s.cpuUsPerMsg,
    asyncMsgsPerSec: a.perSecond,
    asyncMBPerSec: a.bytes / a.seconds / 1e6,
    asyncBusyRetries: a.busyRetries,
    syncMsgsPerSec: s.perSecond,
    syncMBPerSec: s.bytes / s.seconds / 1e6,
    syncBusyRetries: s.busyRetries,
    readBackMsgsPerSec: rb.perSecond,
    readBackMessages: rb.messages,
    asyncLagP99Ms: percentile(a.lagMs, 99),
    asyncLagMaxMs: a.lagMs.length ? Math.max(...a.lagMs) : NaN,
    syncLagP99Ms: percentile(s.lagMs, 99),
    syncLagMaxMs: s.lagMs.length ? Math.max(...s.lagMs) : NaN,
  };
}

const bench: Bench = async (ctx) => {
  const arg = (name: string, dflt: number): number => Number(ctx.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt);
  const ms = arg('ms', 3000);
  const rssBytes = arg('rss-bytes', 2 * 1024 * MiB);
  const root = mkdtempSync(join(tmpdir(), 'store-bench-'));
  try {
    // Warm-up (not measured): every path once, so that the JIT has compiled them before the first figure.
    ctx.progress('warm-up');
    const warm = await openStore(`${root}/warm`, 'async', 256 * MiB);
    await pump(warm, makeBatches(100, BATCH, QUEUES), ASYNC_IN_FLIGHT, 1500, 0);
    readBack(warm, QUEUES, 256);
    await warm.close();
    rmSync(`${root}/warm`, { recursive: true, force: true });

    const small = await measureSize(ctx, root, 100, ms);
    const large = await measureSize(ctx, root, 1024, ms);

    ctx.progress(`RSS: appending ${(rssBytes / MiB).toFixed(0)} MiB through 64 MiB segments (async flush, batches of 512 x 1 KiB)`);
    const rssStore = await openStore(`${root}/rss`, 'async', 64 * MiB);
    const rssBefore = process.memoryUsage.rss() / MiB;
    const rss = await pump(rssStore, makeBatches(1024, 512, QUEUES), ASYNC_IN_FLIGHT, 30_000, 0, rssBytes, true);
    await rssStore.close();
    rmSync(`${root}/rss`, { recursive: true, force: true });

    const figures = {
      batch: BATCH,
      queues: QUEUES,
      asyncInFlight: ASYNC_IN_FLIGHT,
      syncInFlight: SYNC_IN_FLIGHT,
      msg100: mapRound(small),
      msg1KiB: mapRound(large),
      rss: { appendedMiB: round(rss.bytes / MiB), seconds: round(rss.seconds), MBPerSec: round(rss.bytes / rss.seconds / 1e6), rssBeforeMiB: round(rssBefore), peakRssMiB: round(rss.peakRssMiB), busyRetries: rss.busyRetries },
    };
    const lag = Math.max(small.asyncLagP99Ms, large.asyncLagP99Ms);
    return {
      figures,
      goals: [
        atLeast('async append 100 B msgs/s / raw baseline msgs/s (same record bytes)', small.asyncMsgsPerSec / small.rawMsgsPerSec, 0.6, 'ratio'),
        atLeast('async append 100 B', small.asyncMsgsPerSec, 1_000_000, 'msgs/s'),
        atLeast('sync append 100 B (64 batches in flight) / async append 100 B', small.syncMsgsPerSec / small.asyncMsgsPerSec, 0.5, 'ratio'),
        atLeast('read-back 100 B msgs/s / async append 100 B msgs/s', small.readBackMsgsPerSec / small.asyncMsgsPerSec, 1, 'ratio'),
        atMost('dispatcher lag p99 at full async append rate (100 B and 1 KiB)', lag, 100, 'ms'),
        atMost('peak RSS appending 2 GiB through 64 MiB segments', rss.peakRssMiB, 300, 'MiB'),
      ],
      table: [
        ...([['100 B', small], ['1 KiB', large]] as const).flatMap(([name, f]) => [
          { what: `raw baseline ${name}`, record: f.recordBytes, 'msgs/s': Math.round(f.rawMsgsPerSec), 'MB/s': round(f.rawMBPerSec, 1), ratio: 1 },
          { what: `store async ${name}`, record: f.recordBytes, 'msgs/s': Math.round(f.asyncMsgsPerSec), 'MB/s': round(f.asyncMBPerSec, 1), ratio: round(f.asyncMsgsPerSec / f.rawMsgsPerSec) },
          { what: `store sync ${name}`, record: f.recordBytes, 'msgs/s': Math.round(f.syncMsgsPerSec), 'MB/s': round(f.syncMBPerSec, 1), ratio: round(f.syncMsgsPerSec / f.rawMsgsPerSec) },
          { what: `read-back ${name}`, record: f.recordBytes, 'msgs/s': Math.round(f.readBackMsgsPerSec), 'MB/s': round((f.readBackMsgsPerSec * f.recordBytes) / 1e6, 1), ratio: round(f.readBackMsgsPerSec / f.rawMsgsPerSec) },
        ]),
      ],
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
};

function mapRound<T extends object>(o: T): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v as number)]));
}

export default bench;
