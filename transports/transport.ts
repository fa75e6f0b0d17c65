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
