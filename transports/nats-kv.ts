/**
 * Key-value buckets on NATS: JetStream KV buckets (the `@nats-io/kv` client), for the transport's `keyValue`.
 *
 * A bucket is opened, or created when absent, with history 1 and the replicas asked for (default 1; a bucket that
 * exists keeps its own). Reads go to the stream's leader (no direct gets, which a follower may answer with an
 * older value), so a read after a write sees it. `create` and `update` are JetStream publishes that expect the
 * key's last sequence (0 for an absent key): the server refuses them with "wrong last sequence" when someone
 * else wrote first, which is KvConflictError here. A deleted or purged key reads as absent and can be created.
 * A revision is the message's stream sequence: increasing per bucket.
 *
 * Failures are KvError with a message that says what to do: JETSTREAM_DISABLED when the server does not run
 * JetStream, TIMEOUT when JetStream does not answer in time (a cluster without a stream leader, for one),
 * UNAVAILABLE when nobody answers for the bucket, CLOSED when the connection is closed, INVALID for a key or
 * bucket name NATS does not allow.
 */
import { ClosedConnectionError, DrainingConnectionError, NoRespondersError, RequestError, TimeoutError, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { KvConflictError, KvError, isValidKvBucket, isValidKvKey, type KvBucket, type KvOpenOptions } from './transport.js';

/** Opens (creating when absent) the KV bucket `bucket` over `nc`; rejects with KvError. */
export async function openNatsKv(nc: NatsConnection, bucket: string, opts: KvOpenOptions = {}): Promise<KvBucket> {
  if (!isValidKvBucket(bucket)) throw new KvError('INVALID', `invalid KV bucket name ${JSON.stringify(bucket)}: use letters, digits, '-' and '_'`);
  const replicas = opts.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw new KvError('INVALID', `KV replicas must be 1, 3 or 5, got ${replicas}`);
  let kv: KV;
  try {
    kv = await new Kvm(nc).create(bucket, { history: 1, replicas, allow_direct: false });
  } catch (e) {
    throw kvFailure(nc, e, `open KV bucket ${bucket}`);
  }
  return new NatsKvBucket(nc, bucket, kv);
}

class NatsKvBucket implements KvBucket {
  constructor(
    private readonly nc: NatsConnection,
    readonly name: string,
    private readonly kv: KV,
  ) {}

  async get(key: string): Promise<{ value: Uint8Array; revision: number } | undefined> {
    this.checkKey(key);
    let e;
    try {
      e = await this.kv.get(key);
    } catch (err) {
      throw kvFailure(this.nc, err, `read key ${key} of KV bucket ${this.name}`);
    }
    if (e === null || e.operation === 'DEL' || e.operation === 'PURGE') return undefined;
    return { value: e.value, revision: e.revision };
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    this.checkKey(key);
    try {
      return await this.kv.create(key, value);
    } catch (err) {
      if (isWrongLastSequence(err)) throw new KvConflictError(this.name, key, 0);
      throw kvFailure(this.nc, err, `create key ${key} of KV bucket ${this.name}`);
    }
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    this.checkKey(key);
    if (!Number.isSafeInteger(revision) || revision < 1) throw new KvError('INVALID', `revision must be a positive integer, got ${revision}`);
    try {
      return await this.kv.update(key, value, revision);
    } catch (err) {
      if (isWrongLastSequence(err)) throw new KvConflictError(this.name, key, revision);
      throw kvFailure(this.nc, err, `update key ${key} of KV bucket ${this.name}`);
    }
  }

  private checkKey(key: string): void {
    if (!isValidKvKey(key)) throw new KvError('INVALID', `invalid KV key ${JSON.stringify(key)}: use letters, digits and - / _ = . (no leading, trailing or double '.')`);
  }
}

function isWrongLastSequence(e: unknown): boolean {
  return e instanceof JetStreamApiError && (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

/** A failure of the KV client as a KvError saying what to do. */
function kvFailure(nc: NatsConnection, e: unknown, what: string): KvError {
  if (e instanceof KvError) return e;
  const cause = e instanceof Error ? e.cause : undefined;
  const server = serverOf(nc);
  if (isJetStreamDisabled(e)) {
    return new KvError('JETSTREAM_DISABLED', `cannot ${what}: JetStream is not enabled on the NATS server at ${server}: start nats-server with -js (or a jetstream block) to use ha.controller 'kv'`, { cause: e });
  }
  if (e instanceof ClosedConnectionError || e instanceof DrainingConnectionError || cause instanceof ClosedConnectionError || cause instanceof DrainingConnectionError || nc.isClosed()) {
    return new KvError('CLOSED', `cannot ${what}: the NATS connection is closed`, { cause: e });
  }
  if (e instanceof TimeoutError || cause instanceof TimeoutError) {
    return new KvError('TIMEOUT', `cannot ${what}: JetStream at ${server} did not answer in time; check that the NATS server (or a majority of its cluster) is up and the bucket's stream has a leader, then retry`, { cause: e });
  }
  if (e instanceof NoRespondersError || cause instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders())) {
    return new KvError('UNAVAILABLE', `cannot ${what}: nothing on the NATS server at ${server} answers for it (was the bucket's stream deleted?); open the bucket again`, { cause: e });
  }
  const message = e instanceof Error ? e.message : String(e);
  if (/invalid (key|bucket)/i.test(message)) return new KvError('INVALID', `cannot ${what}: ${message}`, { cause: e });
  return new KvError('FAILED', `cannot ${what}: ${message}`, { cause: e });
}

function isJetStreamDisabled(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (e.name === 'JetStreamNotEnabled') return true;
  return e instanceof JetStreamApiError && e.code === JetStreamApiCodes.JetStreamNotEnabledForAccount;
}

function serverOf(nc: NatsConnection): string {
  try {
    return nc.getServer() || 'the connected address';
  } catch {
    return 'the connected address';
  }
}
