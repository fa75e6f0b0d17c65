/**
 * Direct connections: the NATS transport's fast path from a requester straight to the process that serves an
 * address, one TCP hop instead of two NATS hops (requester -> nats-server -> server and back).
 *
 * A transport that listens (`DirectListener`) answers a look-up on NATS for every inbox it serves with its
 * endpoint. A requester (`DirectLinks`) looks an address up the first time it sends there, keeps using NATS
 * until the link is up, then sends that address's frames over the link. A link that fails hands the address
 * back to NATS and is looked up again later; requests waiting on it fail (they may have been served, as after
 * a timeout).
 *
 * On the wire (direct-wire.ts), the first message from the requester is a hello: the listener's token and the
 * address (UTF-8, a newline between them). The listener answers `ok` when the token is its own and it serves the
 * address, and closes the connection otherwise. Every later message is one encoded frame.
 *
 * No peer can hold a listener's resources for free: a connection must say hello within `helloTimeoutMs` and in
 * at most MAX_HELLO_BYTES (until then it can make the listener hold no more than that unread), and there are at
 * most `maxConnections` at once, hello or not; one more is closed as soon as it is accepted. Once linked, a
 * message may be as large as the payload limit, and a peer that leaves too much unsent is cut (direct-wire.ts).
 *
 * A listener given a certificate (`tls`) speaks TLS on every connection (the TLS handshake counts towards the
 * hello's time) and says so in its endpoint; requesters then connect with node:tls (direct-tls.ts decides when).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { RealClock, type Clock } from '../core/clock.js';
import { DirectProtocolError, MessageSocket, type DirectEndpoint } from './direct-wire.js';

/** The listener's answer to a hello for an address it serves. */
const HELLO_OK = 'ok';
const CONNECT_TIMEOUT_MS = 1000;
/** The largest hello (and answer to one) read: a token and an address need far less. */
export const MAX_HELLO_BYTES = 4096;
export const DEFAULT_HELLO_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_CONNECTIONS = 1024;
/** Connections cut before their hello (refused, silent, bad) are logged at most this often, with their counts. */
const CUT_LOG_INTERVAL_MS = 10_000;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** A listener that could not start (address in use, not permitted). */
export class DirectListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DirectListenError';
  }
}

// ------------------------------------------------------------------------------------------- listener side

/** How a listener hands over what arrives for an address it serves. */
export type DirectDelivery = (message: Uint8Array, from: MessageSocket) => void;

export interface DirectListenOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  /** The host requesters are told to connect to (default `host`). */
  advertise?: string;
  /** How long an accepted connection has to send its hello before it is closed. Default 5000 ms. */
  helloTimeoutMs?: number;
  /** Connections open at once, linked or not; one more is closed at once. Default 1024. */
  maxConnections?: number;
  /** Speak TLS with this certificate and key (PEM contents); plain TCP without. */
  tls?: tls.SecureContextOptions;
}

/** Why connections were cut before their hello. */
export interface DirectCuts {
  /** Closed on arrival: `maxConnections` were open. */
  refused: number;
  /** No hello within `helloTimeoutMs`. */
  silent: number;
  /** A hello that was too large, not a message, or without this listener's token. */
  badHello: number;
}

/**
 * Accepts direct connections and delivers their messages to the address each was opened for. Addresses are
 * served between `serve` and its returned release; releasing one closes the connections opened for it.
 */
export class DirectListener {
  private readonly served = new Map<string, { deliver: DirectDelivery; sockets: Set<MessageSocket> }>();
  private readonly sockets = new Set<net.Socket>();
  private readonly cutCounts: DirectCuts = { refused: 0, silent: 0, badHello: 0 };
  /** Counts not yet logged, and when the last log line was written. */
  private unlogged: DirectCuts = { refused: 0, silent: 0, badHello: 0 };
  private lastCutLog = Number.NEGATIVE_INFINITY;
  private readonly helloTimeoutMs: number;
  private readonly maxConnections: number;
  private readonly secureContext: tls.SecureContext | undefined;

  private constructor(
    private readonly server: net.Server,
    readonly endpoint: DirectEndpoint,
    private readonly maxBytes: () => number,
    private readonly logger: Logger,
    private readonly clock: Clock,
    opts: DirectListenOptions,
  ) {
    this.helloTimeoutMs = opts.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
    this.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.secureContext = secureContext(opts);
    server.on('connection', (socket) => this.accept(socket));
    server.on('error', (err) => this.logger.warn({ err }, 'direct listener failed'));
  }

  /** Listens on `host:port`; `maxBytes` is the largest frame a linked peer may send; hello timeouts run on `clock`. */
  static async listen(opts: DirectListenOptions, maxBytes: () => number, logger: Logger, clock: Clock = new RealClock()): Promise<DirectListener> {
    secureContext(opts); // a bad certificate fails here, before the port is taken
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error): void => reject(new DirectListenError(`cannot listen for direct links on ${opts.host}:${opts.port}: ${err.message}`));
      server.once('error', failed);
      server.listen(opts.port, opts.host, () => {
        server.off('error', failed);
        resolve();
      });
    });
    const port = (server.address() as net.AddressInfo).port;
    const endpoint: DirectEndpoint = { host: opts.advertise ?? opts.host, port, token: randomBytes(16).toString('hex'), ...(opts.tls ? { tls: true } : {}) };
    return new DirectListener(server, endpoint, maxBytes, logger, clock, opts);
  }

  /** Connections open now (linked or still before their hello). */
  get connections(): number {
    return this.sockets.size;
  }

  /** Connections cut before their hello since the listener started, by reason. */
  get cuts(): Readonly<DirectCuts> {
    return { ...this.cutCounts };
  }

  serve(address: string, deliver: DirectDelivery): () => void {
    const entry = { deliver, sockets: new Set<MessageSocket>() };
    this.served.set(address, entry);
    return () => {
      if (this.served.get(address) === entry) this.served.delete(address);
      for (const s of entry.sockets) s.close();
    };
  }

  async close(): Promise<void> {
    this.served.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.end();
    // sockets that do not finish closing in time are cut, so close() always ends
    const t = setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, 1000);
    await closed;
    clearTimeout(t);
  }

  private accept(raw: net.Socket): void {
    let deliver: DirectDelivery | undefined;
    raw.on('error', (err) => this.logger.debug({ err }, 'direct connection failed'));
    if (this.sockets.size >= this.maxConnections) {
      this.cut('refused', raw);
      return;
    }
    const socket = this.secureContext === undefined ? raw : new tls.TLSSocket(raw, { isServer: true, secureContext: this.secureContext });
    if (socket !== raw) {
      // the TLS socket reports its own errors; a handshake that fails (a peer not speaking TLS, or not ours) is a bad hello
      socket.on('error', (err) => {
        if (deliver === undefined && !(err instanceof DirectProtocolError)) this.cut('badHello', socket);
      });
    }
    socket.on('error', (err) => {
      if (err instanceof DirectProtocolError) this.logger.warn({ err, remote: socket.remoteAddress }, 'direct connection cut');
      else this.logger.debug({ err }, 'direct connection failed');
    });
    this.sockets.add(socket);
    const helloTimer = this.clock.setTimeout(() => {
      if (deliver === undefined) this.cut('silent', socket);
    }, this.helloTimeoutMs);
    socket.on('close', () => {
      this.clock.clearTimeout(helloTimer);
      this.sockets.delete(socket);
    });
    const ms: MessageSocket = new MessageSocket(
      socket,
      MAX_HELLO_BYTES,
      (message) => {
        if (deliver !== undefined) {
          deliver(message, ms);
          return;
        }
        if (socket.destroyed) return; // cut while this chunk was being read
        const hello = fromUtf8.decode(message);
        const cut = hello.indexOf('\n');
        if (cut < 0 || !sameSecret(hello.slice(0, cut), this.endpoint.token)) {
          this.cut('badHello', socket);
          return;
        }
        const address = hello.slice(cut + 1);
        const entry = this.served.get(address);
        if (entry === undefined) {
          this.logger.debug({ address }, 'direct hello for an address not served here; closing');
          socket.destroy();
          return;
        }
        this.clock.clearTimeout(helloTimer);
        entry.sockets.add(ms);
        socket.on('close', () => entry.sockets.delete(ms));
        deliver = entry.deliver;
        ms.setLimit(this.maxBytes()); // checked from the next length prefix on, this chunk's included
        ms.write(utf8.encode(HELLO_OK));
      },
      (err) => {
        if (deliver === undefined) this.cut('badHello', socket);
        else this.logger.warn({ err, remote: socket.remoteAddress }, 'direct connection sent a bad message; closed');
      },
    );
  }

  /**
   * Closes a connection before its hello and counts why. Such cuts cost a peer nothing but a connect, so they
   * are logged together, at most once per CUT_LOG_INTERVAL_MS, with how many of each since the last line.
   */
  private cut(why: keyof DirectCuts, socket: net.Socket): void {
    const remote = socket.remoteAddress;
    socket.destroy();
    this.cutCounts[why]++;
    this.unlogged[why]++;
    const now = this.clock.now();
    if (now - this.lastCutLog < CUT_LOG_INTERVAL_MS) return;
    this.lastCutLog = now;
    this.logger.warn(
      { ...this.unlogged, connections: this.sockets.size, maxConnections: this.maxConnections, helloTimeoutMs: this.helloTimeoutMs, remote },
      'direct connections cut before their hello (refused: over the connection limit; silent: no hello in time; badHello: too large, garbage or a wrong token)',
    );
    this.unlogged = { refused: 0, silent: 0, badHello: 0 };
  }
}

function secureContext(opts: DirectListenOptions): tls.SecureContext | undefined {
  if (opts.tls === undefined) return undefined;
  try {
    return tls.createSecureContext(opts.tls);
  } catch (e) {
    throw new DirectListenError(`cannot use the TLS certificate for direct links: ${(e as Error).message}`);
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

// ------------------------------------------------------------------------------------------- requester side

/** A requester's direct connection to one address, ready once the listener said hello back. */
export class DirectLink {
  private constructor(readonly address: string, readonly socket: MessageSocket) {}

  /**
   * Connects (over TLS with `secure`) and says hello; resolves undefined when the listener does not serve
   * `address`, cannot be reached, or its certificate does not check out.
   */
  static connect(
    address: string,
    endpoint: DirectEndpoint,
    maxBytes: number,
    onReply: (message: Uint8Array) => void,
    onClose: (link: DirectLink) => void,
    secure?: tls.ConnectionOptions,
  ): Promise<DirectLink | undefined> {
    return new Promise((resolve) => {
      let link: DirectLink | undefined;
      const ms = MessageSocket.connect(
        endpoint,
        MAX_HELLO_BYTES, // until the listener said ok

        (message) => {
          if (link !== undefined) {
            onReply(message);
            return;
          }
          clearTimeout(timer);
          if (fromUtf8.decode(message) !== HELLO_OK) {
            socket.destroy();
            return;
          }
          ms.setLimit(maxBytes);
          link = new DirectLink(address, ms);
          resolve(link);
        },
        () => undefined, // the socket is destroyed: the close handler below reports it
        secure,
      );
      const socket = ms.socket;
      const timer = setTimeout(() => socket.destroy(), CONNECT_TIMEOUT_MS);
      socket.on('error', () => undefined); // followed by 'close'
      socket.on('close', () => {
        clearTimeout(timer);
        if (link === undefined) resolve(undefined);
        else onClose(link);
      });
      // over TLS, the token leaves only once the listener's certificate checked out
      socket.once(secure === undefined ? 'connect' : 'secureConnect', () => ms.write(utf8.encode(`${endpoint.token}\n${address}`)));
    });
  }

  close(): void {
    this.socket.close();
  }

  /** Cuts the link at once (its peer stopped answering). */
  drop(): void {
    this.socket.socket.destroy();
  }
}

/** What the requester side needs from its transport. */
export interface DirectLinksDeps {
  /** Asks who serves `address` directly (over NATS); undefined when nobody does. */
  lookUp(address: string): Promise<DirectEndpoint | undefined>;
  /** A reply (an encoded frame) that came over a link. */
  onReply(message: Uint8Array): void;
  /** A link was lost: fail what waits on it. */
  onLost(link: DirectLink): void;
  now(): number;
  maxBytes(): number;
  logger: Logger;
  /**
   * How to open a link to `endpoint`: node:tls options, undefined for plain TCP, or false for no link (the
   * address stays on NATS). Default: TLS when the endpoint says so, else plain.
   */
  security?(endpoint: DirectEndpoint): tls.ConnectionOptions | undefined | false;
}

/** After a lost link, how long an address stays on NATS before it is looked up again. */
const RETRY_LOOKUP_MS = 1000;
/** How long an address nobody serves directly, or whose link could not be opened, stays on NATS before it is looked up again. */
const RECHECK_MS = 5000;
const ROUTE_LIMIT = 10_000;

interface Route {
  link?: DirectLink;
  /** The look-up and connect under way. */
  opening?: Promise<void>;
  /** When to look up again (while there is no link). */
  retryAt: number;
}

/**
 * The requester's direct links by address. `link(to)` answers at once: the live link, or undefined (send on
 * NATS) after starting a look-up in the background when one is due.
 */
export class DirectLinks {
  private readonly routes = new Map<string, Route>();
  private closed = false;

  constructor(private readonly deps: DirectLinksDeps) {}

  link(to: string): DirectLink | undefined {
    const r = this.routes.get(to);
    // a link being cut (dropped, its close not yet reported) takes nothing new
    if (r !== undefined && r.link !== undefined && r.link.socket.open) return r.link;
    if (r === undefined) this.start(to, this.newRoute(to));
    else if (r.opening === undefined && this.deps.now() >= r.retryAt) this.start(to, r);
    return undefined;
  }

  /** Resolves once a link to `to` is up (true) or cannot be had now (false); opens one when due. */
  async linkTo(to: string): Promise<boolean> {
    if (this.link(to) !== undefined) return true;
    await this.routes.get(to)?.opening;
    return this.routes.get(to)?.link?.socket.open === true;
  }

  close(): void {
    this.closed = true;
    for (const r of this.routes.values()) r.link?.close();
    this.routes.clear();
  }

  private newRoute(to: string): Route {
    if (this.routes.size >= ROUTE_LIMIT) {
      for (const [a, r] of this.routes) if (r.link === undefined && r.opening === undefined) this.routes.delete(a);
    }
    const r: Route = { retryAt: 0 };
    this.routes.set(to, r);
    return r;
  }

  private start(to: string, r: Route): void {
    if (this.closed) return;
    r.opening = this.open(to, r).then(
      (outcome) => {
        r.opening = undefined;
        if (outcome !== 'linked') r.retryAt = this.deps.now() + RECHECK_MS;
      },
      (err: unknown) => {
        r.opening = undefined;
        r.retryAt = this.deps.now() + RECHECK_MS;
        this.deps.logger.warn({ err, address: to }, 'direct link failed to open; staying on NATS');
      },
    );
  }

  private async open(to: string, r: Route): Promise<'linked' | 'failed'> {
    const endpoint = await this.deps.lookUp(to);
    if (endpoint === undefined) return 'failed';
    const secure = this.deps.security !== undefined ? this.deps.security(endpoint) : endpoint.tls === true ? {} : undefined;
    if (secure === false) {
      this.deps.logger.debug({ address: to, host: endpoint.host, port: endpoint.port }, 'direct link offered without TLS while NATS is TLS; staying on NATS');
      return 'failed';
    }
    const link = await DirectLink.connect(to, endpoint, this.deps.maxBytes(), this.deps.onReply, (lost) => this.lost(to, lost), secure);
    if (link === undefined) {
      this.deps.logger.debug({ address: to, host: endpoint.host, port: endpoint.port }, 'direct link not accepted; staying on NATS');
      return 'failed';
    }
    if (this.closed || this.routes.get(to) !== r) {
      link.close();
      return 'failed';
    }
    r.link = link;
    this.deps.logger.debug({ address: to, host: endpoint.host, port: endpoint.port }, 'direct link up'); // never the token
    return 'linked';
  }

  private lost(to: string, link: DirectLink): void {
    const r = this.routes.get(to);
    if (r !== undefined && r.link === link) {
      r.link = undefined;
      r.retryAt = this.deps.now() + RETRY_LOOKUP_MS;
    }
    if (!this.closed) this.deps.logger.debug({ address: to }, 'direct link lost; back on NATS');
    this.deps.onLost(link);
  }
}
