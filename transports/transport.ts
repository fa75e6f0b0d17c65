import type { Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { RandomSource } from '../core/random.js';
import { Status, StatusError } from '../core/status.js';
import type { Frame } from './frame.js';

/** A frame that arrived at an address. */
export interface Incoming {
  readonly frame: Frame;
  /**
   * Present when the sender waits for an answer. Call it at most once; the transport sets the reply's kind
   * and request id.
   */
  readonly reply?: (frame: Frame) => void;
}

export interface SendOptions {
  /** The sender's address. Transports may ignore it; the fault wrapper matches partitions and rules on it. */
  from?: string;
}

export interface RequestOptions extends SendOptions {
  /** How long to wait for the reply before failing with Status.TIMEOUT. */
  timeoutMs?: number;
}

export type TransportState = 'connected' | 'disconnected' | 'reconnecting' | 'closed';

/**
 * How actors talk. Addresses are plain strings (`broker.broker-a.0`, `namesrv.ns-1`); a transport maps them to
 * whatever it needs (NATS subjects under a prefix, in-process subjects). A frame's body must not change once it
 * is handed over: a transport may write it out later without copying it.
 */
export interface Transport {
  readonly kind: 'memory' | 'nats';
  /** Largest encoded frame the transport carries; larger frames fail with Status.PAYLOAD_TOO_LARGE. */
  readonly maxPayload: number;
  /** The frames sent to `address`. Subscribing starts listening; unsubscribing stops. */
  inbox(address: string): Observable<Incoming>;
  /** Sends a request and resolves with the reply frame (whatever its status); rejects with TransportError. */
  request(to: string, frame: Frame, opts?: RequestOptions): Promise<Frame>;
  /** One-way frame to an address; throws TransportError when it cannot be sent (too large, closed). */
  send(to: string, frame: Frame, opts?: SendOptions): void;
  /** Publishes to every subscriber of `subject`. */
  publish(subject: string, frame: Frame, opts?: SendOptions): void;
  /** Frames published on `subject`. */
  subscribe(subject: string): Observable<Frame>;
  /** Connection state changes (memory transports stay 'connected' until closed). */
  readonly state$: Observable<TransportState>;
  /** Resolves once everything sent so far has left this process. */
  flush(): Promise<void>;
  close(): Promise<void>;
  /**
   * Opens (creating when absent) the key-value bucket `bucket`, shared by every transport of the same network
   * (NATS: a JetStream KV bucket on the server or cluster; memory: the network's). Absent when the transport has
   * no such capability. Rejects with KvError.
   */
  keyValue?(bucket: string, opts?: KvOpenOptions): Promise<KvBucket>;
}

export interface KvOpenOptions {
  /** Copies of the bucket kept by the NATS cluster (1, 3 or 5); used only when the bucket is created. Default 1. */
  replicas?: number;
}

/**
 * A key-value bucket changed by compare-and-set. Every write gets a revision (increasing per bucket, not per key);
 * `update` applies only over the key's current revision, `create` only when the key is absent, else they reject
 * with KvConflictError (someone else wrote first: read again). Other failures reject with KvError. Keys are
 * `[-/_=.a-zA-Z0-9]`, neither beginning nor ending with `.` and without `..`.
 */
export interface KvBucket {
  readonly name: string;
  /** The key's value and revision, or undefined when the key is absent (or deleted). */
  get(key: string): Promise<{ value: Uint8Array; revision: number } | undefined>;
  /** Writes the key when it is absent; resolves with the new revision. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Writes the key when its current revision is `revision`; resolves with the new revision. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
}

/** A compare-and-set that lost: the key exists (create) or has another revision than the one given (update). */
export class KvConflictError extends Error {
  readonly code = 'KV_CONFLICT' as const;
  constructor(
    readonly bucket: string,
    readonly key: string,
    /** The revision the write expected (0: the key absent). */
    readonly expected: number,
    message?: string,
  ) {
    super(message ?? (expected === 0 ? `key ${key} of bucket ${bucket} exists already` : `key ${key} of bucket ${bucket} is no longer at revision ${expected}`));
    this.name = 'KvConflictError';
  }
}

/**
 * Why a key-value operation failed (other than a conflict): JetStream not enabled on the server, no answer in
 * time, the connection closed, a key or bucket name not allowed, a value too large, or another server error.
 */
export type KvErrorCode = 'JETSTREAM_DISABLED' | 'TIMEOUT' | 'UNAVAILABLE' | 'CLOSED' | 'INVALID' | 'TOO_LARGE' | 'FAILED';

const kvStatusOf: Record<KvErrorCode, number> = {
  JETSTREAM_DISABLED: Status.SERVICE_NOT_AVAILABLE,
  TIMEOUT: Status.TIMEOUT,
  UNAVAILABLE: Status.SERVICE_NOT_AVAILABLE,
  CLOSED: Status.TRANSPORT_CLOSED,
  INVALID: Status.INVALID_ARGUMENT,
  TOO_LARGE: Status.PAYLOAD_TOO_LARGE,
  FAILED: Status.SYSTEM_ERROR,
};

export class KvError extends StatusError {
  constructor(
    readonly code: KvErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(kvStatusOf[code], message);
    this.name = 'KvError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** KV key syntax (as NATS): `[-/_=.a-zA-Z0-9]+`, no leading or trailing `.`, no `..`. */
export function isValidKvKey(key: string): boolean {
  return /^[-/_=.a-zA-Z0-9]+$/.test(key) && !key.startsWith('.') && !key.endsWith('.') && !key.includes('..');
}

/** KV bucket name syntax (as NATS): `[-_a-zA-Z0-9]+`. */
export function isValidKvBucket(name: string): boolean {
  return /^[-_a-zA-Z0-9]+$/.test(name);
}

/** What a transport is built from: the Environment's clock, random source and logger. */
export interface TransportDeps {
  clock: Clock;
  random: RandomSource;
  logger: Logger;
}

/** How users pick a transport: `memoryTransport()`, `natsTransport({ servers })`. */
export type TransportFactory = (deps: TransportDeps) => Transport | Promise<Transport>;

export const DEFAULT_REQUEST_TIMEOUT_MS = 3000;

export type TransportErrorCode = 'TIMEOUT' | 'NO_RESPONDERS' | 'PAYLOAD_TOO_LARGE' | 'CLOSED' | 'DISCONNECTED' | 'BAD_FRAME';

const statusOf: Record<TransportErrorCode, number> = {
  TIMEOUT: Status.TIMEOUT,
  NO_RESPONDERS: Status.NO_RESPONDERS,
  PAYLOAD_TOO_LARGE: Status.PAYLOAD_TOO_LARGE,
  CLOSED: Status.TRANSPORT_CLOSED,
  /** A connection to one peer was lost (the transport itself still works). */
  DISCONNECTED: Status.TRANSPORT_CLOSED,
  BAD_FRAME: Status.BAD_FRAME,
};

export class TransportError extends StatusError {
  constructor(
    readonly code: TransportErrorCode,
    message: string,
  ) {
    super(statusOf[code], message);
    this.name = 'TransportError';
  }
}
