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
 * Wire format: length-prefixed messages (u32 big-endian length, then the bytes). The first message from the
 * requester is a hello holding the address (UTF-8); the listener answers `ok` when it serves that address and
 * closes the connection otherwise. Every later message is one encoded frame.
 */
import net from 'node:net';
import type { Logger } from 'pino';

/** The listener's answer to a hello for an address it serves. */
const HELLO_OK = 'ok';
const LENGTH_BYTES = 4;
/** Bytes a socket reads at a time, as Node reads by default. */
const READ_SIZE = 64 * 1024;
const CONNECT_TIMEOUT_MS = 1000;
const KEEPALIVE_MS = 10_000;
/**
 * Bytes a socket may hold unsent before the peer counts as too slow and the connection is cut, as nats-server
 * cuts a slow consumer: memory stays bounded, and the requests waiting on the link fail and are retried.
 */
export const MAX_UNSENT_BYTES = 64 * 1024 * 1024;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** Where a listener accepts direct connections. */
export interface DirectEndpoint {
  host: string;
  port: number;
}

/** A listener that could not start (address in use, not permitted). */
export class DirectListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DirectListenError';
  }
}

export class DirectProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DirectProtocolError';
  }
}

/**
 * Splits a byte stream into length-prefixed messages. `push` hands every complete message to `onMessage` (a
 * view into the chunk when the message lies in one chunk; else the chunks it came in are joined once, when its
 * last byte is there) and keeps the rest; a length above `maxBytes` throws DirectProtocolError.
 */
export class MessageReader {
  /** Chunks of a message not complete yet. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Bytes the pending message needs, prefix included (0: its prefix is not complete yet). */
  private need = 0;

  constructor(private readonly maxBytes: number) {}

  /** A large message read straight into a buffer of its own (see `nextBuffer`), and how much of it is in. */
  private target: Uint8Array | undefined;
  private targetFilled = 0;

  /** Bytes received and not yet handed out. */
  get buffered(): number {
    return this.pendingBytes + this.targetFilled;
  }

  /**
   * Where a socket should read next (its `onread` buffer): the rest of a large message being received, so it
   * lands in place with no joining copy, or else a fresh buffer of READ_SIZE bytes.
   */
  nextBuffer(): Uint8Array {
    return this.target !== undefined ? this.target.subarray(this.targetFilled) : Buffer.allocUnsafe(READ_SIZE);
  }

  /** `n` bytes were read into `buf`, the latest `nextBuffer()`. */
  read(buf: Uint8Array, n: number, onMessage: (message: Uint8Array) => void): void {
    const t = this.target;
    if (t !== undefined) {
      this.targetFilled += n;
      if (this.targetFilled < t.length) return;
      this.target = undefined;
      this.targetFilled = 0;
      onMessage(t.subarray(LENGTH_BYTES));
      return;
    }
    this.push(buf.subarray(0, n), onMessage);
    if (this.need > READ_SIZE) {
      // a large message has begun: the rest of it is read straight into its own buffer
      const whole = Buffer.allocUnsafe(this.need);
      let at = 0;
      for (const c of this.pending) {
        whole.set(c, at);
        at += c.length;
      }
      this.target = whole;
      this.targetFilled = at;
      this.pending = [];
      this.pendingBytes = 0;
      this.need = 0;
    }
  }

  push(chunk: Uint8Array, onMessage: (message: Uint8Array) => void): void {
    let buf = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.need) return;
      buf = join(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
      this.need = 0;
    }
    let at = 0;
    while (buf.length - at >= LENGTH_BYTES) {
      const len = ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
      if (len > this.maxBytes) throw new DirectProtocolError(`message of ${len} bytes exceeds the limit of ${this.maxBytes}`);
      if (buf.length - at - LENGTH_BYTES < len) {
        this.need = LENGTH_BYTES + len;
        break;
      }
      onMessage(buf.subarray(at + LENGTH_BYTES, at + LENGTH_BYTES + len));
      at += LENGTH_BYTES + len;
    }
    if (at < buf.length) {
      this.pending.push(buf.subarray(at));
      this.pendingBytes = buf.length - at;
    }
  }
}

function join(chunks: readonly Uint8Array[], bytes: number): Uint8Array {
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The 4-byte length prefix of a message of `length` bytes. */
export function lengthPrefix(length: number): Uint8Array {
  const h = new Uint8Array(LENGTH_BYTES);
  h[0] = length >>> 24;
  h[1] = (length >>> 16) & 0xff;
  h[2] = (length >>> 8) & 0xff;
  h[3] = length & 0xff;
  return h;
}

/**
 * A socket carrying length-prefixed messages. Writes made in one tick leave in one system call (the socket is
 * corked until the microtask queue runs), as the NATS client batches its own writes.
 */
export class MessageSocket {
  private readonly reader: MessageReader;
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  /**
   * `reader`: when given, the socket was made to read through it (`onread`, see `MessageSocket.connect`) and
   * `onMessage` is not used here; else the socket's data events feed a reader of its own.
   */
  constructor(
    readonly socket: net.Socket,
    maxBytes: number,
    onMessage: (message: Uint8Array) => void,
    private readonly onProtocolError: (err: DirectProtocolError) => void,
    reader?: MessageReader,
  ) {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_MS);
    this.reader = reader ?? new MessageReader(maxBytes);
    if (reader === undefined) socket.on('data', (chunk: Buffer) => this.guard(() => this.reader.push(chunk, onMessage)));
  }

  /**
   * Connects to `endpoint`; large incoming messages are read straight into buffers of their own (a client
   * socket can choose where each read lands; an accepted one cannot).
   */
  static connect(endpoint: DirectEndpoint, maxBytes: number, onMessage: (message: Uint8Array) => void, onProtocolError: (err: DirectProtocolError) => void): MessageSocket {
    const reader = new MessageReader(maxBytes);
    let ms: MessageSocket | undefined;
    const socket = net.connect({
      host: endpoint.host,
      port: endpoint.port,
      onread: {
        buffer: () => reader.nextBuffer(),
        callback: (n: number, buf: Uint8Array) => {
          ms?.guard(() => reader.read(buf, n, onMessage));
          return true;
        },
      },
    });
    ms = new MessageSocket(socket, maxBytes, onMessage, onProtocolError, reader);
    return ms;
  }

  /** Runs a read step; a protocol error cuts the connection. */
  private guard(step: () => void): void {
    if (this.socket.destroyed) return;
    try {
      step();
    } catch (e) {
      if (!(e instanceof DirectProtocolError)) throw e;
      this.onProtocolError(e);
      this.socket.destroy();
    }
  }

  get open(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }

  /** Writes one message: `message`, followed by `rest` when given (two parts leave in one write, not joined). */
  write(message: Uint8Array, rest?: Uint8Array): void {
    if (!this.open) return;
    if (this.socket.writableLength > MAX_UNSENT_BYTES) {
      this.socket.destroy(new DirectProtocolError(`peer too slow: more than ${MAX_UNSENT_BYTES} bytes unsent`));
      return;
    }
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      queueMicrotask(this.uncork);
    }
    this.socket.write(lengthPrefix(message.length + (rest?.length ?? 0)));
    this.socket.write(message);
    if (rest !== undefined && rest.length > 0) this.socket.write(rest);
  }

  close(): void {
    if (!this.socket.destroyed) this.socket.end();
  }
}

// ------------------------------------------------------------------------------------------- listener side

/** How a listener hands over what arrives for an address it serves. */
export type DirectDelivery = (message: Uint8Array, from: MessageSocket) => void;

/**
 * Accepts direct connections and delivers their messages to the address each was opened for. Addresses are
 * served between `serve` and its returned release; releasing one closes the connections opened for it.
 */
export class DirectListener {
  private readonly served = new Map<string, { deliver: DirectDelivery; sockets: Set<MessageSocket> }>();
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly endpoint: DirectEndpoint,
    private readonly maxBytes: () => number,
    private readonly logger: Logger,
  ) {
    server.on('connection', (socket) => this.accept(socket));
    server.on('error', (err) => this.logger.warn({ err }, 'direct listener failed'));
  }

  /** Listens on `host:port` (port 0: any free one); `advertise` is the host requesters are told to connect to. */
  static async listen(opts: { host: string; port: number; advertise?: string }, maxBytes: () => number, logger: Logger): Promise<DirectListener> {
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
    return new DirectListener(server, { host: opts.advertise ?? opts.host, port }, maxBytes, logger);
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

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', (err) => {
      if (err instanceof DirectProtocolError) this.logger.warn({ err, remote: socket.remoteAddress }, 'direct connection cut');
      else this.logger.debug({ err }, 'direct connection failed');
    });
    let deliver: DirectDelivery | undefined;
    const ms: MessageSocket = new MessageSocket(
      socket,
      this.maxBytes(),
      (message) => {
        if (deliver !== undefined) {
          deliver(message, ms);
          return;
        }
        const address = fromUtf8.decode(message);
        const entry = this.served.get(address);
        if (entry === undefined) {
          this.logger.debug({ address }, 'direct hello for an address not served here; closing');
          socket.end();
          return;
        }
        entry.sockets.add(ms);
        socket.on('close', () => entry.sockets.delete(ms));
        deliver = entry.deliver;
        ms.write(utf8.encode(HELLO_OK));
      },
      (err) => this.logger.warn({ err, remote: socket.remoteAddress }, 'direct connection sent a bad message; closed'),
    );
  }
}

// ------------------------------------------------------------------------------------------- requester side

/** A requester's direct connection to one address, ready once the listener said hello back. */
export class DirectLink {
  private constructor(readonly address: string, readonly socket: MessageSocket) {}

  /** Connects and says hello; resolves undefined when the listener does not serve `address` or cannot be reached. */
  static connect(address: string, endpoint: DirectEndpoint, maxBytes: number, onReply: (message: Uint8Array) => void, onClose: (link: DirectLink) => void): Promise<DirectLink | undefined> {
    return new Promise((resolve) => {
      let link: DirectLink | undefined;
      const ms = MessageSocket.connect(
        endpoint,
        maxBytes,
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
          link = new DirectLink(address, ms);
          resolve(link);
        },
        () => undefined, // the socket is destroyed: the close handler below reports it
      );
      const socket = ms.socket;
      const timer = setTimeout(() => socket.destroy(), CONNECT_TIMEOUT_MS);
      socket.on('error', () => undefined); // followed by 'close'
      socket.on('close', () => {
        clearTimeout(timer);
        if (link === undefined) resolve(undefined);
        else onClose(link);
      });
      socket.once('connect', () => ms.write(utf8.encode(address)));
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
}

/** After a lost link, how long an address stays on NATS before it is looked up again. */
export const RETRY_LOOKUP_MS = 1000;
/** How long an address nobody serves directly, or whose link could not be opened, stays on NATS before it is looked up again. */
export const RECHECK_MS = 5000;
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
    const link = await DirectLink.connect(to, endpoint, this.deps.maxBytes(), this.deps.onReply, (lost) => this.lost(to, lost));
    if (link === undefined) {
      this.deps.logger.debug({ address: to, endpoint }, 'direct link not accepted; staying on NATS');
      return 'failed';
    }
    if (this.closed || this.routes.get(to) !== r) {
      link.close();
      return 'failed';
    }
    r.link = link;
    this.deps.logger.debug({ address: to, endpoint }, 'direct link up');
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
