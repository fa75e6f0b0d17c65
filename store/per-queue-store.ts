/**
 * storeMode 'per-queue': a log per queue, the seed's question (RocketMQ's one commit log for every queue, or one
 * per queue as Kafka's partitions) made something to measure. Each queue is a whole store of its own in
 * `<dir>/logs/<n>` (commit log, its one consume queue, key index, checkpoint, crash recovery: message-store.ts
 * unchanged), and `<dir>/logs/<n>/queue` names the queue log n holds. Log n's offsets start at n * LOG_SPAN, so
 * a commit log offset, and the message id made of it, says which log holds its record: reads by id, flush waits
 * and pull replies need no translation. The logs share one handle cache (the bound on open files) and the
 * directory's lock.
 */
import { BehaviorSubject, Subject } from 'rxjs';
import type { Logger } from 'pino';
import { Status } from '../core/status.js';
import { cachedStorage, type CachedStorage } from './cached-storage.js';
import { CompactPutResult, type CommitPosition, type PutResult } from './commit-log.js';
import { queueKeyOf, type PutMessage } from './commit-log-batch.js';
import { ShapeMismatch, readJsonFileAs, shape, writeJsonAtomic, type Shape } from './config-file.js';
import type { StorageLock } from './backend.js';
import { createDirs } from './dirty-files.js';
import { decodeMessageId, messageIdEncoder, messageIdPrefix } from './message-id.js';
import { HEALTHY, sameHealth, type StoreHealth } from './store-health.js';
import type { GetQuery, RecordsResult, StoredMessage } from './store-queries.js';
import { openMessageStore, StoreOpenError, type MessageStore, type MessageStoreOptions } from './message-store.js';
import type { NewData } from './dispatcher.js';

/** Offsets each queue's log has (512 GiB): log n holds [n * LOG_SPAN, (n + 1) * LOG_SPAN). */
export const LOG_SPAN = 2 ** 39;
/** Logs a per-queue store holds at most: every offset stays a safe integer. */
export const MAX_LOGS = Math.floor(Number.MAX_SAFE_INTEGER / LOG_SPAN);
/** Per-queue defaults where the mixed store's would multiply by the number of queues. */
export const PER_QUEUE_DEFAULTS = {
  /** Commit log segment size per queue (64 MiB; the mixed log's 1 GiB would hold retention back per queue). */
  segmentSize: 64 * 1024 * 1024,
  /** Recent bytes each log keeps in memory for reads (32 KiB, against 1 MiB for the one mixed log). */
  tailCacheBytes: 32 * 1024,
  /** Key index entries per file (its slot table, a quarter of them as u32, is in memory per queue). */
  indexEntriesPerFile: 16 * 1024,
  /** Consume queue entries per file. */
  consumeQueueEntriesPerFile: 64 * 1024,
} as const;
/** Logs opened (or closed) at once while the store opens (closes): each waits on its own flushes. */
const OPEN_CONCURRENCY = 32;

interface QueueLog {
  n: number;
  topic: string;
  queueId: number;
  store: MessageStore;
}

const queueFileShape: Shape<{ topic: string; queueId: number }> = shape.fields({
  topic: (v, field) => {
    if (typeof v !== 'string' || v.length === 0) throw new ShapeMismatch(field, 'a topic name', v);
    return v;
  },
  queueId: shape.int(0),
});

/** Log states by how much they say about the whole store (others rank as idle). */
const STATE_RANK = ['serving.idle', 'serving.scheduled', 'serving.flushing', 'failed'];

const logName = (n: number): string => String(n).padStart(5, '0');

/** Each position summed over the logs, counted from each log's start: bytes, the measure positions() has in this mode. */
function summedPositions(logs: Iterable<QueueLog>): ReturnType<MessageStore['positions']> {
  const sum = { writeOffset: 0, flushedOffset: 0, minOffset: 0, dispatched: 0 };
  for (const l of logs) {
    const p = l.store.positions();
    const base = l.n * LOG_SPAN;
    sum.writeOffset += Math.max(0, p.writeOffset - base);
    sum.flushedOffset += Math.max(0, p.flushedOffset - base);
    sum.minOffset += Math.max(0, p.minOffset - base);
    sum.dispatched += Math.max(0, p.dispatched - base);
  }
  return sum;
}

export async function openPerQueueStore(opts: MessageStoreOptions): Promise<MessageStore> {
  const logger: Logger = opts.logger.child({ component: 'store', dir: opts.dir, storeMode: 'per-queue' });
  const segmentSize = opts.segmentSize ?? PER_QUEUE_DEFAULTS.segmentSize;
  if (LOG_SPAN % segmentSize !== 0) throw new StoreOpenError(`a per-queue store needs a segment size that divides 2^39 (a power of two), not ${segmentSize}`);
  const logOpts: MessageStoreOptions = {
    ...opts,
    segmentSize,
    warmAheadBytes: opts.warmAheadBytes ?? 0,
    indexEntriesPerFile: opts.indexEntriesPerFile ?? PER_QUEUE_DEFAULTS.indexEntriesPerFile,
    consumeQueueEntriesPerFile: opts.consumeQueueEntriesPerFile ?? PER_QUEUE_DEFAULTS.consumeQueueEntriesPerFile,
  };
  const storage: CachedStorage = cachedStorage(opts.storage, {
    clock: opts.clock,
    logger,
    ...(opts.maxOpenFiles !== undefined ? { maxOpenFiles: opts.maxOpenFiles } : {}),
    ...(opts.fileIdleCloseMs !== undefined ? { idleCloseMs: opts.fileIdleCloseMs } : {}),
  });
  let lock: StorageLock;
  try {
    lock = opts.storage.lock(`${opts.dir}/lock`);
  } catch (err) {
    storage.close();
    throw err;
  }
  const logsDir = `${opts.dir}/logs`;
  const byKey = new Map<string, QueueLog>();
  const byTopic = new Map<string, QueueLog[]>();
  const byNumber = new Map<number, QueueLog>();
  const creating = new Map<string, Promise<QueueLog>>();
  const newData = new Subject<NewData>();
  const positions = new Subject<CommitPosition>();
  const health = new BehaviorSubject<StoreHealth>(HEALTHY);
  let nextNumber = 0;
  let closed = false;

  /** The logs that are not healthy now, in the order they became so: the store's health is the first one's. */
  const unhealthy = new Map<QueueLog, StoreHealth>();
  const logHealth = (l: QueueLog, lh: StoreHealth): void => {
    if (lh.state === 'ok') unhealthy.delete(l);
    else unhealthy.set(l, { ...lh, reason: `${l.topic}/${l.queueId}: ${lh.reason}` });
    const h = unhealthy.values().next().value ?? HEALTHY;
    if (!sameHealth(h, health.value)) health.next(h);
  };

  const openLog = async (n: number, topic: string, queueId: number): Promise<QueueLog> => {
    const store = await openMessageStore({ ...logOpts, dir: `${logsDir}/${logName(n)}` }, { storage, baseOffset: n * LOG_SPAN, tailCacheBytes: PER_QUEUE_DEFAULTS.tailCacheBytes });
    const l: QueueLog = { n, topic, queueId, store };
    byKey.set(queueKeyOf(topic, queueId), l);
    byNumber.set(n, l);
    const same = byTopic.get(topic);
    if (same) same.push(l);
    else byTopic.set(topic, [l]);
    // each log's streams end when it closes; the store's end when it does
    store.newData$.subscribe((d) => newData.next(d));
    store.positions$.subscribe((p) => positions.next(p));
    store.health$.subscribe((h) => logHealth(l, h));
    return l;
  };

  const close = async (): Promise<void> => {
    closed = true;
    await Promise.all([...creating.values()].map((c) => c.catch(() => undefined)));
    const errors: unknown[] = [];
    const logs = [...byNumber.values()];
    for (let i = 0; i < logs.length; i += OPEN_CONCURRENCY) {
      await Promise.all(logs.slice(i, i + OPEN_CONCURRENCY).map((l) => l.store.close().catch((e: unknown) => errors.push(e))));
    }
    newData.complete();
    positions.complete();
    health.complete();
    storage.close();
    lock.release();
    if (errors.length > 0) throw new AggregateError(errors, `closing ${errors.length} queue logs failed`);
  };

  // open every log there is: the queue file first names it (a log without one was never written to)
  try {
    const newDirs = createDirs(storage, logsDir);
    let removed = false;
    const names = storage.list(logsDir).filter((x) => /^\d+$/.test(x));
    for (let i = 0; i < names.length; i += OPEN_CONCURRENCY) {
      await Promise.all(
        names.slice(i, i + OPEN_CONCURRENCY).map(async (name) => {
          const n = Number(name);
          nextNumber = Math.max(nextNumber, n + 1);
          const q = readJsonFileAs(storage, `${logsDir}/${name}/queue`, queueFileShape);
          if (q === undefined) {
            storage.remove(`${logsDir}/${name}`);
            removed = true;
            return;
          }
          await openLog(n, q.topic, q.queueId);
        }),
      );
    }
    if (removed) await storage.flushDir(logsDir);
    for (const d of newDirs) await storage.flushDir(d);
  } catch (err) {
    await close().catch((closeErr: unknown) => logger.error({ err: closeErr }, 'closing the logs opened so far failed too'));
    throw err instanceof StoreOpenError ? err : new StoreOpenError(`cannot open the per-queue store in ${opts.dir}: ${(err as Error).message}`, { cause: err });
  }
  logger.info({ logs: byNumber.size }, 'per-queue store open');

  /** The queue's log, made (durably named first) on its first write. */
  const logFor = (topic: string, queueId: number): QueueLog | Promise<QueueLog> => {
    const key = queueKeyOf(topic, queueId);
    const have = byKey.get(key);
    if (have) return have;
    let c = creating.get(key);
    if (c === undefined) {
      if (nextNumber >= MAX_LOGS) throw new RangeError(`a per-queue store holds at most ${MAX_LOGS} queues`);
      const n = nextNumber++;
      c = (async () => {
        await writeJsonAtomic(storage, `${logsDir}/${logName(n)}/queue`, { topic, queueId });
        await storage.flushDir(logsDir);
        return openLog(n, topic, queueId);
      })().finally(() => creating.delete(key));
      creating.set(key, c);
    }
    return c;
  };

  const logOfOffset = (offset: number): QueueLog | undefined => byNumber.get(Math.floor(offset / LOG_SPAN));
  const refused = (status: number, message: string): PutResult => ({ status, message, results: [] });
  const msgId = messageIdEncoder(opts.storeHost);

  const putTo = (l: QueueLog, batch: PutMessage[]): Promise<PutResult> => {
    if (l.store.positions().writeOffset >= (l.n + 1) * LOG_SPAN - 2 * segmentSize) {
      return Promise.resolve(refused(Status.DISK_FULL, `the log of queue ${l.topic}/${l.queueId} has used its ${LOG_SPAN} bytes of offsets`));
    }
    return l.store.putMessages(batch);
  };
  const notMade = (topic: string, queueId: number, err: unknown): PutResult => {
    logger.error({ err, topic, queueId }, 'cannot make a queue log');
    return refused(Status.STORE_FAILED, `cannot make the log of queue ${topic}/${queueId}: ${(err as Error).message}`);
  };
  /** A batch for one queue: straight to its log once it exists. */
  const putOne = (topic: string, queueId: number, batch: PutMessage[]): Promise<PutResult> => {
    let got: QueueLog | Promise<QueueLog>;
    try {
      got = logFor(topic, queueId);
    } catch (err) {
      return Promise.resolve(notMade(topic, queueId, err));
    }
    if (!(got instanceof Promise)) return putTo(got, batch);
    return got.then(
      (l) => putTo(l, batch),
      (err: unknown) => notMade(topic, queueId, err),
    );
  };

  /** A batch over several queues: one put per queue at once, the answers merged in the batch's order. */
  const putSpread = async (batch: PutMessage[]): Promise<PutResult> => {
    const groups = new Map<string, { topic: string; queueId: number; idx: number[]; msgs: PutMessage[] }>();
    batch.forEach((m, i) => {
      const key = queueKeyOf(m.topic, m.queueId);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { topic: m.topic, queueId: m.queueId, idx: [], msgs: [] }));
      g.idx.push(i);
      g.msgs.push(m);
    });
    const parts = [...groups.values()];
    const answers = await Promise.all(parts.map((g) => putOne(g.topic, g.queueId, g.msgs)));
    // nothing of the batch counts as stored unless every part is (a part that failed fails the whole answer)
    const failed = answers.find((a) => a.status !== Status.OK && a.results.length === 0);
    if (failed) return refused(failed.status, failed.message ?? 'the store refused part of the batch');
    const n = batch.length;
    const cl = new Array<number>(n);
    const qo = new Array<number>(n);
    const sizes = new Array<number>(n);
    parts.forEach((g, k) => {
      const a = answers[k]!;
      const { commitLogOffsets: c, queueOffsets: q, sizes: s } = a;
      const items = c && q && s ? undefined : a.results;
      g.idx.forEach((at, j) => {
        cl[at] = items ? items[j]!.commitLogOffset : c![j]!;
        qo[at] = items ? items[j]!.queueOffset : q![j]!;
        sizes[at] = items ? items[j]!.size : s![j]!;
      });
    });
    const r = new CompactPutResult(cl, qo, sizes, msgId, messageIdPrefix(opts.storeHost));
    const warned = answers.find((a) => a.status !== Status.OK);
    return warned ? { status: warned.status, message: warned.message ?? '', results: r.results } : r;
  };

  const store: MessageStore = {
    putMessages(batch) {
      if (closed) return Promise.resolve(refused(Status.SERVICE_NOT_AVAILABLE, 'store is closed'));
      const h = health.value;
      if (h.state !== 'ok') return Promise.resolve(refused(h.status, `store takes no writes now: ${h.reason}`));
      const first = batch[0];
      if (first === undefined) return Promise.resolve(new CompactPutResult([], [], [], msgId, undefined));
      for (let i = 1; i < batch.length; i++) {
        if (batch[i]!.queueId !== first.queueId || batch[i]!.topic !== first.topic) return putSpread(batch);
      }
      return putOne(first.topic, first.queueId, batch);
    },
    getRecords(q: GetQuery): RecordsResult {
      const l = byKey.get(queueKeyOf(q.topic, q.queueId));
      if (l) return l.store.getRecords(q);
      const status = closed ? 'STORE_CLOSED' : 'NO_MESSAGE_IN_QUEUE';
      return { status, count: 0, bodyBytes: 0, bufs: [], positions: [], firstCommitLogOffset: undefined, nextOffset: closed ? q.offset : 0, minOffset: 0, maxOffset: 0 };
    },
    getMessages(q) {
      const l = byKey.get(queueKeyOf(q.topic, q.queueId));
      if (l) return l.store.getMessages(q);
      const r = store.getRecords(q);
      return { status: r.status, messages: [], nextOffset: r.nextOffset, minOffset: 0, maxOffset: 0 };
    },
    storedAt(r, i): StoredMessage | undefined {
      const at = r.firstCommitLogOffset;
      return at === undefined ? undefined : logOfOffset(at)?.store.storedAt(r, i);
    },
    lookupById(id) {
      let offset: number;
      try {
        offset = decodeMessageId(id).commitLogOffset;
      } catch {
        return undefined;
      }
      return logOfOffset(offset)?.store.lookupById(id);
    },
    lookupByKey(topic, key, max) {
      const out: StoredMessage[] = [];
      for (const l of byTopic.get(topic) ?? []) {
        if (out.length >= max) break;
        out.push(...l.store.lookupByKey(topic, key, max - out.length));
      }
      return out;
    },
    minOffset: (topic, queueId) => byKey.get(queueKeyOf(topic, queueId))?.store.minOffset(topic, queueId) ?? 0,
    maxOffset: (topic, queueId) => byKey.get(queueKeyOf(topic, queueId))?.store.maxOffset(topic, queueId) ?? 0,
    offsetByTime: (topic, queueId, ts) => byKey.get(queueKeyOf(topic, queueId))?.store.offsetByTime(topic, queueId, ts) ?? 0,
    msgIdPrefix: messageIdPrefix(opts.storeHost),
    newData$: newData.asObservable(),
    /** The busiest of its logs' states: failed, then flushing, then scheduled (a flush due), else idle. */
    get state() {
      if (closed) return 'closed';
      let best = 'serving.idle';
      for (const l of byNumber.values()) {
        const s = l.store.state;
        if (STATE_RANK.indexOf(s) > STATE_RANK.indexOf(best)) best = s;
      }
      return best;
    },
    get commitLogActor(): never {
      throw new StoreOpenError('a per-queue store has a commit log actor per queue, not one');
    },
    whenFlushed(offset) {
      const l = logOfOffset(offset - 1);
      return l ? l.store.whenFlushed(offset) : Promise.resolve();
    },
    async whenRecordsFlushed(offsets) {
      const last = new Map<QueueLog, number>();
      for (const o of offsets) {
        const l = logOfOffset(o);
        if (l && (last.get(l) ?? -1) < o) last.set(l, o);
      }
      await Promise.all([...last].map(([l, o]) => l.store.whenFlushed(o + 1)));
    },
    storeMode: 'per-queue',
    flushMode: opts.flush,
    positions$: positions.asObservable(),
    readReplica() {
      throw new StoreOpenError('a per-queue store does not replicate (replication ships the one mixed commit log)');
    },
    appendReplica: () => Promise.resolve(refused(Status.SERVICE_NOT_AVAILABLE, 'a per-queue store does not replicate')),
    truncateTail: () => Promise.reject(new StoreOpenError('a per-queue store does not replicate: it has no tail to truncate')),
    limitDispatch: () => undefined,
    startAtSegmentOf: () => Promise.reject(new StoreOpenError('a per-queue store does not replicate: it cannot start at a master\'s segment')),
    queueList: () => [...byNumber.values()].map((l) => ({ topic: l.topic, queueId: l.queueId, maxOffset: l.store.maxOffset(l.topic, l.queueId) })),
    positions: () => summedPositions(byNumber.values()),
    corruptRanges: () => [...byNumber.values()].flatMap((l) => l.store.corruptRanges()),
    health: () => health.value,
    health$: health.asObservable(),
    runRetention: () => {
      let segmentsDeleted = 0;
      for (const l of byNumber.values()) segmentsDeleted += l.store.runRetention().segmentsDeleted;
      return { segmentsDeleted };
    },
    fileHandles: () => storage.stats(),
    close: (() => {
      let closing: Promise<void> | undefined;
      return () => (closing ??= close());
    })(),
  };
  return store;
}
