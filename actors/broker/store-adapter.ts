import type { MessageStore, RecordsResult, StoredMessage } from '../../store/message-store.js';
import { openStore, type StoreOptions } from '../../store/open-store.js';
import { encodeRecordBatch } from '../../core/record-batch.js';
import { PROP_KEYS, PROP_TAGS } from '../../core/record-layout.js';
import { matchesHash, matchesTag } from '../protocol/tag-expression.js';
import type { MessageExt } from '../../core/message.js';
import { isDerivedMessageId } from '../protocol/send-reply.js';
import { Status, StatusError } from '../../core/status.js';
import type { ReplicationPort, StoreGetRequest, StoreGetResult, StorePort } from './store-port.js';

/** Binds the broker's store port to the message store. */

/** A stored message as a consumer sees it (TAGS and KEYS live in their own fields, not in properties). */
export function toMessageExt(m: StoredMessage): MessageExt {
  // one pass, no copy-then-delete (delete turns the object into a slow dictionary)
  let properties: Record<string, string> | undefined;
  const src = m.properties;
  for (const k in src) {
    if (k === PROP_TAGS || k === PROP_KEYS || !Object.prototype.hasOwnProperty.call(src, k)) continue;
    properties ??= {};
    if (k === '__proto__') Object.defineProperty(properties, k, { value: src[k], enumerable: true, writable: true, configurable: true });
    else properties[k] = src[k]!;
  }
  const out: MessageExt = {
    msgId: m.msgId,
    topic: m.topic,
    queueId: m.queueId,
    queueOffset: m.queueOffset,
    commitLogOffset: m.commitLogOffset,
    bornTimestamp: m.bornTimestamp,
    storeTimestamp: m.storeTimestamp,
    reconsumeTimes: m.reconsumeTimes,
    bornHost: m.bornHost,
    storeHost: m.storeHost,
    body: m.body,
  };
  if (m.tags !== undefined) out.tags = m.tags;
  if (m.keys.length > 0) out.keys = m.keys;
  if (properties !== undefined) out.properties = properties;
  return out;
}

/**
 * A pull's result: the store's record bytes, encoded straight into the reply; MessageExt objects are built only for
 * whoever asks. A class (not an object literal with a getter and closures): one small object per pull.
 */
class RecordsGetResult implements StoreGetResult {
  private mapped: MessageExt[] | undefined;
  readonly count: number;
  readonly bodyBytes: number;
  readonly nextOffset: number;
  readonly minOffset: number;
  readonly maxOffset: number;
  readonly firstCommitLogOffset: number | undefined;

  constructor(
    private readonly store: MessageStore,
    private readonly r: RecordsResult,
    private readonly idPrefix: Uint8Array,
  ) {
    this.count = r.count;
    this.bodyBytes = r.bodyBytes;
    this.nextOffset = r.nextOffset;
    this.minOffset = r.minOffset;
    this.maxOffset = r.maxOffset;
    this.firstCommitLogOffset = r.firstCommitLogOffset;
  }

  get messages(): MessageExt[] {
    if (this.mapped === undefined) {
      this.mapped = [];
      for (let i = 0; i < this.r.count; i++) {
        const m = this.store.storedAt(this.r, i);
        if (m !== undefined) this.mapped.push(toMessageExt(m));
      }
    }
    return this.mapped;
  }

  encode(): Uint8Array {
    return encodeRecordBatch(this.r.bufs, this.r.positions, this.r.count, this.idPrefix);
  }
}

export function storePort(store: MessageStore): StorePort {
  const idPrefix = Buffer.from(store.msgIdPrefix, 'latin1');
  return {
    putMessages: async (batch) => {
      const r = await store.putMessages(batch);
      // an OK answer of the commit log carries its id prefix: no msgId is built unless someone reads one
      if (r.msgIdPrefix !== undefined) return r;
      // the store names every message by its host's id prefix and its commit log offset (one form for all)
      const first = r.results[0];
      if (first !== undefined) {
        const prefix = first.msgId.slice(0, -16);
        if (first.msgId.length > 16 && isDerivedMessageId(first.msgId, prefix, first.commitLogOffset)) return { ...r, msgIdPrefix: prefix };
      }
      return r;
    },
    getMessages: async (req: StoreGetRequest): Promise<StoreGetResult> => {
      const f = req.filter;
      const r = store.getRecords({
        topic: req.topic,
        queueId: req.queueId,
        offset: req.offset,
        maxCount: req.maxCount,
        ...(req.maxBytes !== undefined ? { maxBytes: req.maxBytes } : {}),
        ...(f && !f.all ? { tags: (hash: number, tag?: string) => (tag === undefined ? matchesHash(f, hash) : matchesTag(f, tag)) } : {}),
      });
      if (r.status === 'STORE_CLOSED') throw new StatusError(Status.SERVICE_NOT_AVAILABLE, 'the store is closed');
      return new RecordsGetResult(store, r, idPrefix);
    },
    lookupById: async (msgId) => {
      const m = store.lookupById(msgId);
      // an id names its store host: another broker's id must not read our log at its offset
      return m && m.msgId.toUpperCase() === msgId.toUpperCase() ? toMessageExt(m) : undefined;
    },
    lookupByKey: async (topic, key, max) => store.lookupByKey(topic, key, max).map(toMessageExt),
    minOffset: (t, q) => store.minOffset(t, q),
    maxOffset: (t, q) => store.maxOffset(t, q),
    offsetByTime: async (t, q, ts) => store.offsetByTime(t, q, ts),
    newData$: store.newData$,
    whenFlushed: (offset) => store.whenFlushed(offset),
    whenRecordsFlushed: (offsets) => store.whenRecordsFlushed(offsets),
    status: () => ({ health: store.health(), positions: store.positions(), corruptRanges: store.corruptRanges() }),
    health$: store.health$,
    ...(store.storeMode === 'mixed' ? { replication: replicationPort(store) } : {}),
    close: () => store.close(),
  };
}

function replicationPort(store: MessageStore): ReplicationPort {
  return {
    readReplica: (from, maxBytes, into) => store.readReplica(from, maxBytes, into),
    appendReplica: (offset, data) => store.appendReplica(offset, data),
    truncateTail: (offset) => store.truncateTail(offset),
    limitDispatch: (offset) => store.limitDispatch(offset),
    queueList: () => store.queueList(),
    startAtSegmentOf: (offset) => store.startAtSegmentOf(offset),
    positions: () => store.positions(),
    positions$: store.positions$,
    flush: store.flushMode,
  };
}

export async function openStorePort(opts: StoreOptions): Promise<StorePort> {
  return storePort(await openStore(opts));
}
