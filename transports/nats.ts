/**
 * The NATS transport: frames (binary, see codec.ts) as NATS message data.
 *
 * Subjects, under a prefix (default `mq`) so several clusters can share one server:
 * - address `A` (an actor's inbox)   -> `${prefix}.${A}`
 * - publish/subscribe subject `S`    -> `${prefix}.pub.${S}` (NATS wildcards `*` and `>` work in subscribe)
 * so addresses must not begin with `pub.`.
 *
 * Requests are NATS publishes with a reply subject `<inbox>.<token>`, one token per request, all under a single
 * reply subscription opened at connect (the NATS client's own request() builds two Error objects per call for
 * async stack traces, a measurable cost per request). A reply with no data and status 503 is the server's
 * "no responders". Replies carry kind Reply and the request's requestId; only frames of kind Request that
 * carry a NATS reply subject get a reply path. The client reconnects forever (every ~250 ms) and re-subscribes inboxes after a reconnect.
 * One-way sends (`send`) over NATS wait for the end of the turn: then the frames of the turn to one address leave as
 * one NATS message, a bundle (bundle.ts, nats-outbox.ts; a lone frame as itself), since the NATS client's cost is
 * per message. Whatever else the connection publishes first sends what waits, so publishes keep their order.
 * Bad data at an inbox is answered with a BAD_FRAME error frame when it has a reply subject, else dropped;
 * both are counted (`droppedFrames`) and logged at most once per 10 s.
 *
 * Direct links (direct.ts): a transport opened with `direct` also serves its inboxes over TCP, and every
 * transport sends to an address served that way over a direct link once it is up (`direct: false` in the
 * options turns both off). Addresses must not begin with `_direct.` either. When the NATS connection is TLS,
 * so are direct links (direct-tls.ts).
 *
 * Authentication and TLS (`auth`, `tls`) go to the NATS client (nats-auth.ts). The first connect tries each
 * server once and fails with a NatsConnectError naming the cause (authentication, unreachable, TLS); once
 * connected, the client reconnects forever.
 *
 * Key-value buckets (`keyValue`) are JetStream KV buckets on the server (nats-kv.ts); they need JetStream enabled.
 */
import { Observable, BehaviorSubject } from 'rxjs';
import type { Logger } from 'pino';
import {
  connect,
  createInbox,
  ClosedConnectionError,
  DrainingConnectionError,
  type Msg,
  type NatsConnection,
} from '@nats-io/transport-node';
import { Status } from '../core/status.js';
import { RealClock, type Clock } from '../core/clock.js';
import { CodecError, decodeFrame, encodeFrame, encodeFrameHead } from './codec.js';
import { DirectLinks, DirectListener, type DirectCuts, type DirectLink } from './direct.js';
import { directClientTls, directListenerTls, linkTlsOptions, type DirectClientTls, type DirectTlsFiles } from './direct-tls.js';
import { connectFailure, natsSecurityOptions, type NatsAuth, type NatsTls } from './nats-auth.js';
import { openNatsKv } from './nats-kv.js';
import { NatsOutbox } from './nats-outbox.js';
import { isBundle, readBundle } from './bundle.js';
import type { DirectEndpoint, MessageSocket } from './direct-wire.js';
import { passLoan } from './body-loans.js';
import { EMPTY_BODY, FrameKind, type Frame } from './frame.js';
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  KvError,
  TransportError,
  type Incoming,
  type KvBucket,
  type KvOpenOptions,
  type RequestOptions,
  type Transport,
  type TransportDeps,
  type TransportFactory,
  type TransportState,
} from './transport.js';

export interface NatsTransportOptions {
  /** One URL or several (`nats://127.0.0.1:4222`). */
  servers: string | string[];
  /** Subject prefix; transports with different prefixes on one server do not see each other. Default 'mq'. */
  prefix?: string;
  /** Connection name shown by the server's monitoring. */
  name?: string;
  /** How to authenticate: token, user and password, nkey seed (or its file), or credentials file. */
  auth?: NatsAuth;
  /** TLS to the server (CA, client certificate and key, server name; file paths). Given at all, TLS is required. */
  tls?: NatsTls;
  /** How long the handshake with one server may take, on the first connect and each reconnect. Default 10000 ms. */
  connectTimeoutMs?: number;
  /**
   * Serve this transport's inboxes over direct TCP links too: listen on `host:port` (default 127.0.0.1, any
   * free port) and tell requesters to connect to `advertise` (default `host`). `false`: neither serve nor use
   * direct links. Default: use other transports' direct links, serve none.
   */
  direct?: DirectOptions | false;
}

export interface DirectOptions {
  host?: string;
  port?: number;
  advertise?: string;
  /** How long an accepted direct connection has to say hello before it is closed. Default 5000 ms. */
  helloTimeoutMs?: number;
  /** Direct connections open at once; one more is closed at once (and counted). Default 1024. */
  maxConnections?: number;
  /**
   * The listener's certificate and key (file paths): links are TLS. Default: the NATS client certificate
   * when the NATS connection is TLS; with neither, a transport on TLS NATS refuses to listen.
   */
  tls?: DirectTlsFiles;
}

const RECONNECT_WAIT_MS = 250;
const CLOSE_DRAIN_MS = 2000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const SUBJECT_CACHE_LIMIT = 10_000;
/** Undecodable frames at an inbox are logged at most this often, with their count. */
const BAD_FRAME_LOG_INTERVAL_MS = 10_000;

/** `natsTransport({ servers })`: connects when the environment is built. */
export function natsTransport(opts: NatsTransportOptions): TransportFactory {
  return async (deps: TransportDeps) => {
    const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const attempt = { servers: [opts.servers].flat().join(','), tls: opts.tls !== undefined, clientCert: opts.tls?.cert !== undefined, timeoutMs };
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: opts.servers,
        name: opts.name,
        ...natsSecurityOptions(opts.auth, opts.tls),
        timeout: timeoutMs,
        maxReconnectAttempts: -1,
        reconnectTimeWait: RECONNECT_WAIT_MS,
        reconnectJitter: 50,
        // false: the first connect tries each server once and fails with the reason; reconnects after it never end
        waitOnFirstConnect: false,
      });
    } catch (e) {
      throw connectFailure(e, attempt);
    }
    const logger = deps.logger.child({ transport: 'nats' });
    const t = new NatsTransport(nc, opts.prefix ?? 'mq', logger, opts.direct !== false, deps.clock, opts.tls);
    if (opts.direct) {
      try {
        await t.listenDirect(opts.direct);
      } catch (e) {
        await t.close();
        throw e;
      }
    }
    return t;
  };
}

/** A request waiting for its reply. */
interface Waiter {
  resolve(frame: Frame): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  to: string;
  /** The direct link the request went on (none: NATS). */
  link?: DirectLink;
}

/** The NATS server's status code on a reply to a request nobody listens for. */
const NO_RESPONDERS_CODE = 503;
const DIRECT_LOOKUP_TIMEOUT_MS = 1000;
const fromUtf8 = new TextDecoder();

export class NatsTransport implements Transport {
  readonly kind = 'nats' as const;
  private readonly stateSubject = new BehaviorSubject<TransportState>('connected');
  readonly state$: Observable<TransportState> = this.stateSubject.asObservable();
  private readonly addressSubjects = new Map<string, string>();
  private readonly links: DirectLinks | undefined;
  private listener: DirectListener | undefined;
  private readonly pubSubjects = new Map<string, string>();
  /** Requests waiting for a reply, by their token: the end of their reply subject, and their request id. */
  private readonly waiting = new Map<number, Waiter>();
  /** `<inbox>.`: a request's reply subject is this followed by its token. */
  private readonly replyBase = `${createInbox()}.`;
  private nextRequestId = 1;
  private clientTls: DirectClientTls | undefined;
  private closing = false;
  private lastMaxPayload: number;
  private dropped = 0;
  /** Undecodable frames since the last line that logged one, and when that was. */
  private unloggedBad = 0;
  private lastBadLog = -Infinity;
  /** One-way frames sent over NATS in this turn, published as bundles at its end. */
  private readonly outbox: NatsOutbox;

  constructor(
    /** The underlying connection (exposed for tests and diagnostics). */
    readonly nc: NatsConnection,
    readonly prefix: string,
    private readonly logger: Logger,
    useDirect = true,
    private readonly clock: Clock = new RealClock(),
    /** The NATS connection's TLS options (direct links follow it). */
    private readonly tls?: NatsTls,
  ) {
    this.lastMaxPayload = nc.info?.max_payload ?? 1024 * 1024;
    this.outbox = new NatsOutbox(
      (subject, data) => nc.publish(subject, data),
      () => this.maxPayload,
      (err, subject, frames) => this.logger.error({ err: this.mapError(err, `send on ${subject}`), subject, frames }, 'one-way frames could not be published at the end of the turn; they are lost'),
    );
    if (useDirect) {
      this.links = new DirectLinks({
        security: (endpoint) => {
          const c = (this.clientTls ??= directClientTls(this.usesTls, this.tls));
          if (endpoint.tls === true) return linkTlsOptions(c, endpoint.host);
          return c.required ? false : undefined;
        },
        lookUp: (address) => this.lookUpDirect(address),
        onReply: (message) => this.onDirectReply(message),
        onLost: (link) => this.failLink(link),
        now: () => clock.now(),
        maxBytes: () => this.maxPayload,
        logger,
      });
    }
    nc.subscribe(`${this.replyBase}*`, { callback: (err, msg) => this.onReply(err, msg) });
    void this.watchStatus();
    void nc.closed().then(() => this.markClosed());
  }

  /** The connected server's max_payload (the last one known while disconnected). */
  get maxPayload(): number {
    const m = this.nc.info?.max_payload;
    if (m !== undefined) this.lastMaxPayload = m;
    return this.lastMaxPayload;
  }

  /** Frames that arrived undecodable (answered with BAD_FRAME or dropped). */
  get droppedFrames(): number {
    return this.dropped;
  }

  /** Where this transport serves its inboxes directly (undefined: it does not). */
  get directEndpoint(): DirectEndpoint | undefined {
    return this.listener?.endpoint;
  }

  /** The direct listener's open connections and what it cut before a hello (undefined: it does not listen). */
  get directStats(): { connections: number; cuts: DirectCuts } | undefined {
    return this.listener === undefined ? undefined : { connections: this.listener.connections, cuts: this.listener.cuts };
  }

  /**
   * Opens a direct link to `address` when its server offers one and resolves whether requests to it now go that
   * way. Sends open links by themselves; this is for callers that want the first request to go direct.
   */
  linkTo(address: string): Promise<boolean> {
    return this.links?.linkTo(address) ?? Promise.resolve(false);
  }

  /** The NATS connection is TLS: asked for, or required by the server. */
  get usesTls(): boolean {
    return this.tls !== undefined || this.nc.info?.tls_required === true;
  }

  /**
   * Starts serving inboxes over direct links; inboxes opened before are not served that way. Over TLS when the
   * NATS connection is TLS or `opts.tls` is given; throws DirectListenError when TLS is needed and there is no
   * certificate.
   */
  async listenDirect(opts: DirectOptions): Promise<void> {
    if (this.listener !== undefined) throw new Error('this transport serves direct links already');
    const { tls: files, ...rest } = opts;
    const secure = directListenerTls(this.usesTls, this.tls, files);
    this.listener = await DirectListener.listen(
      { ...rest, host: opts.host ?? '127.0.0.1', port: opts.port ?? 0, ...(secure ? { tls: secure } : {}) },
      () => this.maxPayload,
      this.logger,
      this.clock,
    );
  }

  inbox(address: string): Observable<Incoming> {
    const subject = this.addressSubject(address);
    return new Observable<Incoming>((subscriber) => {
      let sub;
      try {
        sub = this.nc.subscribe(subject, {
          callback: (err, msg) => {
            if (err) {
              subscriber.error(this.mapError(err, `inbox ${address}`));
              return;
            }
            if (isBundle(msg.data)) {
              this.unbundle(msg, `inbox ${address}`, (frame) => subscriber.next({ frame }));
              return;
            }
            let f: Frame;
            try {
              f = decodeFrame(msg.data);
            } catch (e) {
              this.badFrame(msg, e, `inbox ${address}`);
              return;
            }
            // Only requests get a reply path; looking at msg.reply costs a string decode per message.
            if (f.kind === FrameKind.Request && msg.reply) subscriber.next({ frame: f, reply: this.replier(msg, f) });
            else subscriber.next({ frame: f });
          },
        });
      } catch (e) {
        subscriber.error(this.mapError(e, `inbox ${address}`));
        return;
      }
      void sub.closed.then(
        () => subscriber.complete(),
        (e: unknown) => subscriber.error(this.mapError(e, `inbox ${address}`)),
      );
      const direct = this.serveDirect(address, (incoming) => subscriber.next(incoming));
      return () => {
        direct?.();
        if (!sub.isClosed()) sub.unsubscribe();
      };
    });
  }

  async request(to: string, frame: Frame, opts?: RequestOptions): Promise<Frame> {
    if (this.closing) throw new TransportError('CLOSED', `transport closed; cannot send request to ${to}`);
    // the request id is the token that matches the reply: the end of the reply subject, or the id a direct reply carries
    const token = this.newRequestId();
    const f: Frame = { ...frame, kind: FrameKind.Request, requestId: token };
    const link = this.links?.link(to);
    const data = link !== undefined ? this.encodeHead(f, to) : this.encode(f, to);
    const timeout = opts?.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.waiting.delete(token)) return;
        reject(new TransportError('TIMEOUT', `request to ${to}: no reply within ${timeout} ms`));
        // a link that let a request time out may lead nowhere (a peer cut off but not closed): the next requests
        // go over NATS while a new link is opened
        link?.drop();
      }, timeout);
      this.waiting.set(token, { resolve, reject, timer, to, link });
      try {
        if (link !== undefined) link.socket.write(data, f.body);
        else {
          this.outbox.flush();
          this.nc.publish(this.addressSubject(to), data, { reply: this.replyBase + token });
        }
      } catch (e) {
        this.settle(token)?.reject(this.mapError(e, `request to ${to}`));
      }
    });
  }

  /** A reply (or the server's no-responders status) at the reply subscription. */
  private onReply(err: Error | null, msg: Msg): void {
    if (err) {
      const failed = this.mapError(err, 'reply subscription');
      this.logger.warn({ err: failed }, 'reply subscription failed; failing the requests waiting on it');
      this.failWaiting(failed);
      return;
    }
    const w = this.settle(Number(msg.subject.slice(this.replyBase.length)));
    if (w === undefined) return; // late: the request timed out already
    if (msg.data.length === 0 && msg.headers?.code === NO_RESPONDERS_CODE) {
      w.reject(new TransportError('NO_RESPONDERS', `request to ${w.to}: nobody listens`));
      return;
    }
    let f: Frame;
    try {
      f = decodeFrame(msg.data);
    } catch (e) {
      w.reject(new TransportError('BAD_FRAME', `undecodable reply from ${w.to}: ${(e as Error).message}`));
      return;
    }
    w.resolve(f);
  }

  /** Takes a waiting request out (its timer stopped). */
  private settle(token: number): Waiter | undefined {
    const w = this.waiting.get(token);
    if (w === undefined) return undefined;
    this.waiting.delete(token);
    clearTimeout(w.timer);
    return w;
  }

  /** Fails every request still waiting. */
  private failWaiting(err: Error): void {
    for (const token of [...this.waiting.keys()]) this.settle(token)?.reject(err);
  }

  /** A reply that came over a direct link. */
  private onDirectReply(message: Uint8Array): void {
    let f: Frame;
    try {
      f = decodeFrame(message);
    } catch (e) {
      this.dropped++;
      this.logger.warn({ bytes: message.length, reason: (e as Error).message }, 'undecodable reply on a direct link; dropped');
      return;
    }
    passLoan(message, f.body);
    this.settle(f.requestId)?.resolve(f);
  }

  /** Fails the requests waiting on a direct link that was lost. */
  private failLink(link: DirectLink): void {
    for (const [token, w] of [...this.waiting]) {
      if (w.link === link) this.settle(token)?.reject(new TransportError('DISCONNECTED', `request to ${w.to}: direct link lost while waiting for the reply`));
    }
  }

  /** Asks over NATS who serves `address` directly. */
  private async lookUpDirect(address: string): Promise<DirectEndpoint | undefined> {
    if (this.closing) return undefined;
    try {
      const m = await this.nc.request(this.directSubject(address), EMPTY_BODY, { timeout: DIRECT_LOOKUP_TIMEOUT_MS });
      const e = JSON.parse(fromUtf8.decode(m.data)) as Partial<DirectEndpoint>;
      if (typeof e.host !== 'string' || typeof e.port !== 'number' || typeof e.token !== 'string') return undefined;
      return { host: e.host, port: e.port, token: e.token, ...(e.tls === true ? { tls: true } : {}) };
    } catch {
      return undefined; // nobody serves it directly (no responders, no answer in time, or an answer we cannot read)
    }
  }

  /** Serves `address` over direct links and answers look-ups for it; returns the undo, or undefined when not listening. */
  private serveDirect(address: string, deliver: (incoming: Incoming) => void): (() => void) | undefined {
    const listener = this.listener;
    if (listener === undefined) return undefined;
    const answer = JSON.stringify(listener.endpoint);
    const lookups = this.nc.subscribe(this.directSubject(address), { callback: (_err, msg) => void msg.respond(answer) });
    const release = listener.serve(address, (message, from) => {
      let f: Frame;
      try {
        f = decodeFrame(message);
      } catch (e) {
        this.dropped++;
        this.logger.warn({ address, bytes: message.length, reason: (e as Error).message }, 'bad frame on a direct link; link closed');
        from.close();
        return;
      }
      if (f.kind === FrameKind.Request) deliver({ frame: f, reply: this.directReplier(from, f) });
      else deliver({ frame: f });
    });
    return () => {
      release();
      if (!lookups.isClosed()) lookups.unsubscribe();
    };
  }

  private directReplier(from: MessageSocket, request: Frame): (frame: Frame) => void {
    let replied = false;
    return (f: Frame) => {
      if (replied) return;
      replied = true;
      let head: Uint8Array;
      try {
        head = this.encodeHead({ ...f, kind: FrameKind.Reply, requestId: request.requestId }, 'a direct link');
      } catch (e) {
        from.write(errorReply(request.requestId, request.code, Status.PAYLOAD_TOO_LARGE, (e as Error).message));
        throw e;
      }
      from.write(head, f.body);
    };
  }

  send(to: string, frame: Frame): void {
    const link = this.links?.link(to);
    if (link !== undefined) {
      link.socket.write(this.encodeHead(frame, to), frame.body);
      return;
    }
    const data = this.encode(frame, to);
    if (this.closing || this.nc.isClosed()) throw new TransportError('CLOSED', `send to ${to}: connection closed`);
    this.outbox.add(this.addressSubject(to), data);
  }

  publish(subject: string, frame: Frame): void {
    const data = this.encode(frame, subject);
    try {
      this.outbox.flush();
      this.nc.publish(this.pubSubject(subject), data);
    } catch (e) {
      throw this.mapError(e, `publish on ${subject}`);
    }
  }

  subscribe(subject: string): Observable<Frame> {
    const natsSubject = this.pubSubject(subject);
    return new Observable<Frame>((subscriber) => {
      let sub;
      try {
        sub = this.nc.subscribe(natsSubject, {
          callback: (err, msg) => {
            if (err) {
              subscriber.error(this.mapError(err, `subscription ${subject}`));
              return;
            }
            let f: Frame;
            try {
              f = decodeFrame(msg.data);
            } catch (e) {
              this.badFrame(msg, e, `subscription ${subject}`);
              return;
            }
            subscriber.next(f);
          },
        });
      } catch (e) {
        subscriber.error(this.mapError(e, `subscription ${subject}`));
        return;
      }
      void sub.closed.then(
        () => subscriber.complete(),
        (e: unknown) => subscriber.error(this.mapError(e, `subscription ${subject}`)),
      );
      return () => {
        if (!sub.isClosed()) sub.unsubscribe();
      };
    });
  }

  /** The JetStream KV bucket `bucket`, created (history 1, `opts.replicas`, default 1) when absent. */
  async keyValue(bucket: string, opts?: KvOpenOptions): Promise<KvBucket> {
    if (this.closing) throw new KvError('CLOSED', `transport closed; cannot open KV bucket ${bucket}`);
    return openNatsKv(this.nc, bucket, opts);
  }

  async flush(): Promise<void> {
    try {
      this.outbox.flush();
      await this.nc.flush();
    } catch (e) {
      throw this.mapError(e, 'flush');
    }
  }

  async close(): Promise<void> {
    if (this.closing) {
      await this.nc.closed();
      return;
    }
    this.outbox.flush();
    this.closing = true;
    this.failWaiting(new TransportError('CLOSED', 'transport closed while waiting for a reply'));
    this.links?.close();
    await this.listener?.close();
    if (!this.nc.isClosed()) {
      let timer: NodeJS.Timeout | undefined;
      const drained = this.nc.drain().catch(() => undefined);
      const late = new Promise<void>((r) => (timer = setTimeout(r, CLOSE_DRAIN_MS)));
      await Promise.race([drained, late]);
      clearTimeout(timer);
      // a drain that was late or failed (no server to drain to: it fails at once) leaves the connection open
      if (!this.nc.isClosed()) await this.nc.close().catch(() => undefined);
    }
    await this.nc.closed();
    this.markClosed();
  }

  // --- internals ---

  private encode(frame: Frame, to: string): Uint8Array {
    return this.encodeWith(encodeFrame, frame, to, 0);
  }

  /** The frame up to its body, for a direct link (the body follows it in the same write, not copied). */
  private encodeHead(frame: Frame, to: string): Uint8Array {
    return this.encodeWith(encodeFrameHead, frame, to, frame.body.length);
  }

  private encodeWith(encoder: (f: Frame) => Uint8Array, frame: Frame, to: string, following: number): Uint8Array {
    const max = this.maxPayload;
    if (frame.body.length > max) throw this.tooLarge(frame.body.length, max, to, 'body');
    let data: Uint8Array;
    try {
      data = encoder(frame);
    } catch (e) {
      throw e instanceof CodecError ? new TransportError('BAD_FRAME', `cannot encode frame for ${to}: ${e.message}`) : e;
    }
    if (data.length + following > max) throw this.tooLarge(data.length + following, max, to, 'frame');
    return data;
  }

  private tooLarge(size: number, max: number, to: string, what: string): TransportError {
    return new TransportError('PAYLOAD_TOO_LARGE', `${what} of ${size} bytes for ${to} exceeds the server's max_payload of ${max} bytes`);
  }

  private replier(msg: Msg, request: Frame): (frame: Frame) => void {
    let replied = false;
    return (f: Frame) => {
      if (replied) return;
      replied = true;
      const reply: Frame = { ...f, kind: FrameKind.Reply, requestId: request.requestId };
      let data: Uint8Array;
      try {
        data = this.encode(reply, msg.subject);
      } catch (e) {
        // tell the requester at once instead of letting it time out, and the caller too
        this.respondError(msg, request.requestId, request.code, Status.PAYLOAD_TOO_LARGE, (e as Error).message);
        throw e;
      }
      try {
        this.outbox.flush();
        msg.respond(data);
      } catch (e) {
        throw this.mapError(e, `reply on ${msg.subject}`);
      }
    };
  }

  private respondError(msg: Msg, requestId: number, code: number, status: number, error: string): void {
    try {
      this.outbox.flush();
      msg.respond(errorReply(requestId, code, status, error));
    } catch (e) {
      this.logger.warn({ err: e, subject: msg.subject }, 'cannot send error reply');
    }
  }

  /**
   * Delivers the frames of a bundle (one-way, whatever their kind says: a bundle has no reply subject). A bundle
   * that does not parse delivers nothing; a frame in it that does not decode is dropped, the others delivered.
   */
  private unbundle(msg: Msg, where: string, deliver: (frame: Frame) => void): void {
    let frames: Uint8Array[];
    try {
      frames = readBundle(msg.data);
    } catch (e) {
      this.badFrame(msg, e, where);
      return;
    }
    for (const bytes of frames) {
      let f: Frame;
      try {
        f = decodeFrame(bytes);
      } catch (e) {
        this.badFrame(msg, e, where);
        continue;
      }
      deliver(f);
    }
  }

  /**
   * Answers or drops a frame that does not decode. Anyone on the NATS server can send such frames as fast as it
   * likes, so they are logged at most once per BAD_FRAME_LOG_INTERVAL_MS, the last one with how many came since.
   */
  private badFrame(msg: Msg, e: unknown, where: string): void {
    this.dropped++;
    this.unloggedBad++;
    const reason = e instanceof CodecError ? e.message : String(e);
    if (msg.reply) this.respondError(msg, 0, 0, Status.BAD_FRAME, `bad frame: ${reason}`);
    const now = this.clock.now();
    if (now - this.lastBadLog < BAD_FRAME_LOG_INTERVAL_MS) return;
    this.lastBadLog = now;
    this.logger.warn(
      { subject: msg.subject, bytes: msg.data.length, reason, badFrames: this.unloggedBad },
      `bad frame at ${where}; ${msg.reply ? 'answered with BAD_FRAME' : 'dropped'} (badFrames: how many since the last such line)`,
    );
    this.unloggedBad = 0;
  }

  private mapError(e: unknown, what: string): Error {
    if (e instanceof TransportError) return e;
    const cause = e instanceof Error ? e.cause : undefined;
    if (
      e instanceof ClosedConnectionError ||
      e instanceof DrainingConnectionError ||
      cause instanceof ClosedConnectionError ||
      cause instanceof DrainingConnectionError ||
      this.closing ||
      this.nc.isClosed()
    ) {
      return new TransportError('CLOSED', `${what}: connection closed`);
    }
    return e instanceof Error ? e : new Error(`${what}: ${String(e)}`);
  }

  private newRequestId(): number {
    const id = this.nextRequestId;
    this.nextRequestId = id >= 0xffffffff ? 1 : id + 1;
    return id;
  }

  private addressSubject(address: string): string {
    let s = this.addressSubjects.get(address);
    if (s === undefined) {
      if (this.addressSubjects.size >= SUBJECT_CACHE_LIMIT) this.addressSubjects.clear();
      s = `${this.prefix}.${address}`;
      this.addressSubjects.set(address, s);
    }
    return s;
  }

  private directSubject(address: string): string {
    return `${this.prefix}._direct.${address}`;
  }

  private pubSubject(subject: string): string {
    let s = this.pubSubjects.get(subject);
    if (s === undefined) {
      if (this.pubSubjects.size >= SUBJECT_CACHE_LIMIT) this.pubSubjects.clear();
      s = `${this.prefix}.pub.${subject}`;
      this.pubSubjects.set(subject, s);
    }
    return s;
  }

  private async watchStatus(): Promise<void> {
    try {
      for await (const s of this.nc.status()) {
        switch (s.type) {
          case 'disconnect':
            this.setState('disconnected');
            break;
          case 'reconnecting':
            this.setState('reconnecting');
            break;
          case 'reconnect':
            this.setState('connected');
            this.logger.info({ server: s.server }, 'reconnected');
            break;
          case 'close':
            this.markClosed();
            break;
          case 'error':
            this.logger.warn({ err: s.error }, 'nats error');
            break;
          default:
            break;
        }
      }
    } catch (e) {
      this.logger.warn({ err: e }, 'status stream failed');
    }
  }

  private setState(s: TransportState): void {
    if (this.stateSubject.closed || this.stateSubject.value === s || this.stateSubject.value === 'closed') return;
    this.stateSubject.next(s);
  }

  private markClosed(): void {
    if (this.stateSubject.closed) return;
    const wasClosing = this.closing;
    this.closing = true;
    if (!wasClosing) {
      this.failWaiting(new TransportError('CLOSED', 'connection closed while waiting for a reply'));
    }
    if (this.stateSubject.value !== 'closed') this.stateSubject.next('closed');
    this.stateSubject.complete();
  }
}

/** An encoded error reply. */
function errorReply(requestId: number, code: number, status: number, error: string): Uint8Array {
  return encodeFrame({ kind: FrameKind.Reply, code, requestId, status, header: { error }, body: EMPTY_BODY });
}
