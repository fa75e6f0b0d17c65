/**
 * The memory transport's key-value buckets: one set per MemoryNetwork, so every transport of a network (two
 * brokers in one process, every process of a simulation) sees the same buckets. Same semantics as a JetStream KV
 * bucket with history 1: one revision counter per bucket, increasing with every write; `create` only over an
 * absent key, `update` only over the key's current revision, else KvConflictError; keys and bucket names checked
 * as NATS checks them. Operations take effect when called and resolve in a microtask: no timer, real or virtual.
 * Values are copied in and out, as over a wire.
 */
import {
  KvConflictError,
  KvError,
  isValidKvBucket,
  isValidKvKey,
  type KvBucket,
} from './transport.js';

interface Entry {
  value: Uint8Array;
  revision: number;
}

/** One bucket's contents. */
class MemoryKvStore {
  revision = 0;
  readonly entries = new Map<string, Entry>();
}

/** The buckets of one memory network. */
export class MemoryKv {
  private readonly buckets = new Map<string, MemoryKvStore>();

  constructor(private readonly maxValueBytes: number) {}

  /**
   * A handle on `bucket` (created when absent). `isClosed` is asked before each operation: a closed transport's
   * handle fails with KvError('CLOSED').
   */
  open(bucket: string, isClosed: () => boolean): KvBucket {
    if (!isValidKvBucket(bucket)) throw new KvError('INVALID', `invalid KV bucket name ${JSON.stringify(bucket)}: use letters, digits, '-' and '_'`);
    let store = this.buckets.get(bucket);
    if (store === undefined) this.buckets.set(bucket, (store = new MemoryKvStore()));
    const s = store;
    const max = this.maxValueBytes;
    const check = (key: string, what: string): void => {
      if (isClosed()) throw new KvError('CLOSED', `transport closed; cannot ${what} key ${key} of bucket ${bucket}`);
      if (!isValidKvKey(key)) throw new KvError('INVALID', `invalid KV key ${JSON.stringify(key)}: use letters, digits and - / _ = . (no leading, trailing or double '.')`);
    };
    const write = (key: string, value: Uint8Array): number => {
      if (value.length > max) throw new KvError('TOO_LARGE', `value of ${value.length} bytes for key ${key} of bucket ${bucket} exceeds the transport's maxPayload of ${max} bytes`);
      s.revision += 1;
      s.entries.set(key, { value: new Uint8Array(value), revision: s.revision });
      return s.revision;
    };
    return {
      name: bucket,
      get: async (key) => {
        check(key, 'read');
        const e = s.entries.get(key);
        return e === undefined ? undefined : { value: new Uint8Array(e.value), revision: e.revision };
      },
      create: async (key, value) => {
        check(key, 'create');
        if (s.entries.has(key)) throw new KvConflictError(bucket, key, 0);
        return write(key, value);
      },
      update: async (key, value, revision) => {
        check(key, 'update');
        if (!Number.isSafeInteger(revision) || revision < 1) throw new KvError('INVALID', `revision must be a positive integer, got ${revision}`);
        if (s.entries.get(key)?.revision !== revision) throw new KvConflictError(bucket, key, revision);
        return write(key, value);
      },
    };
  }
}
