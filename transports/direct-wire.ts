/**
 * The wire of direct links (direct.ts): length-prefixed messages over a TCP socket (u32 big-endian length, then
 * the bytes), read without copying where the socket allows it and written in one system call per tick.
 */
import net from 'node:net';
import tls from 'node:tls';
import { lend, takeLoan } from './body-loans.js';

const LENGTH_BYTES = 4;
/** Bytes a socket reads at a time, as Node reads by default. */
const READ_SIZE = 64 * 1024;
const KEEPALIVE_MS = 10_000;
/** Buffers of large messages given back (see body-loans.ts) that a reader keeps for the next ones, at most. */
const SPARE_BUFFERS = 4;
/**
 * Once a reader's messages are given back, a large message's buffer is made a multiple of this, so that one given
 * back fits later messages of other sizes (before, each is made exactly as long as its message: a consumer keeps the
 * messages of a pull reply, and with them the whole buffer).
 */
const LARGE_BUFFER_STEP = 256 * 1024;
/**
 * Bytes a socket may hold unsent before the peer counts as too slow and the connection is cut, as nats-server
 * cuts a slow consumer: memory stays bounded, and the requests waiting on the link fail and are retried.
 */
export const MAX_UNSENT_BYTES = 64 * 1024 * 1024;

/** Where a listener accepts direct connections. */
export interface DirectEndpoint {
  host: string;
  port: number;
  /** The secret a hello must carry: handed out only with the look-up over NATS, so the port is no more open than NATS. */
  token: string;
  /** The listener speaks TLS (requesters connect with node:tls). */
  tls?: boolean;
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
 * last byte is there) and keeps the rest; a length above `limit` throws DirectProtocolError. The limit bounds
 * what a connection can make its reader hold unread, and may change between messages (a listener reads a
 * small hello first, then frames up to the payload limit).
 */
export class MessageReader {
  /** Chunks of a message not complete yet. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Bytes the pending message needs, prefix included (0: its prefix is not complete yet). */
  private need = 0;

  /** @param limit the largest message accepted, in bytes (the length prefix not counted). */
  constructor(public limit: number) {}

  /** A large message read straight into a buffer of its own (see `nextBuffer`), and how much of it is in. */
  private target: Uint8Array | undefined;
  private targetFilled = 0;
  /** The whole buffer `target` is the start of, and buffers of messages handed out and given back since. */
  private targetBuffer: Uint8Array | undefined;
  private spares: Uint8Array[] = [];
  private givenBack = false;

  /** Bytes received and not yet handed out. */
  get buffered(): number {
    return this.pendingBytes + this.targetFilled;
  }

  /** Where reads land between large messages; what they bring is copied out (a copy of what was read, no more). */
  private scratch: Uint8Array | undefined;

  /**
   * Where a socket should read next (its `onread` buffer): the rest of a large message being received, so it
   * lands in place with no joining copy, or else a scratch buffer of READ_SIZE bytes, reused.
   */
  nextBuffer(): Uint8Array {
    if (this.target !== undefined) return this.target.subarray(this.targetFilled);
    return (this.scratch ??= Buffer.allocUnsafe(READ_SIZE));
  }

  /** `n` bytes were read into `buf`, the latest `nextBuffer()`. */
  read(buf: Uint8Array, n: number, onMessage: (message: Uint8Array) => void): void {
    const t = this.target;
    if (t !== undefined) {
      this.targetFilled += n;
      if (this.targetFilled < t.length) return;
      const buffer = this.targetBuffer!;
      this.target = undefined;
      this.targetBuffer = undefined;
      this.targetFilled = 0;
      const message = t.subarray(LENGTH_BYTES);
      lend(message, () => {
        this.givenBack = true;
        if (this.spares.length < SPARE_BUFFERS) this.spares.push(buffer);
      });
      onMessage(message);
      return;
    }
    // copied: the scratch buffer is read into again, while messages handed out may be kept
    this.push(Buffer.from(buf.subarray(0, n)), onMessage);
    if (this.need > READ_SIZE) {
      // a large message has begun: the rest of it is read straight into its own buffer (one given back, if any fits)
      const size = this.givenBack ? Math.ceil(this.need / LARGE_BUFFER_STEP) * LARGE_BUFFER_STEP : this.need;
      const buffer = this.spareFor(this.need) ?? Buffer.allocUnsafe(size);
      const whole = buffer.subarray(0, this.need);
      this.targetBuffer = buffer;
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

  /** The smallest buffer given back that holds `n` bytes, taken from the spares. */
  private spareFor(n: number): Uint8Array | undefined {
    let best = -1;
    for (let i = 0; i < this.spares.length; i++) {
      const len = this.spares[i]!.length;
      if (len >= n && (best < 0 || len < this.spares[best]!.length)) best = i;
    }
    return best < 0 ? undefined : this.spares.splice(best, 1)[0];
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
      if (len > this.limit) throw new DirectProtocolError(`message of ${len} bytes exceeds the limit of ${this.limit}`);
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
   * socket can choose where each read lands; an accepted one cannot). With `secure`, over TLS (node:tls options:
   * CA, names); the socket says `secureConnect` once the listener's certificate checked out.
   */
  static connect(
    endpoint: DirectEndpoint,
    maxBytes: number,
    onMessage: (message: Uint8Array) => void,
    onProtocolError: (err: DirectProtocolError) => void,
    secure?: tls.ConnectionOptions,
  ): MessageSocket {
    const reader = new MessageReader(maxBytes);
    let ms: MessageSocket | undefined;
    const onread = {
      buffer: () => reader.nextBuffer(),
      callback: (n: number, buf: Uint8Array) => {
        ms?.guard(() => reader.read(buf, n, onMessage));
        return true;
      },
    };
    const socket =
      secure === undefined
        ? net.connect({ host: endpoint.host, port: endpoint.port, onread })
        : tls.connect({ ...secure, host: endpoint.host, port: endpoint.port, onread } as tls.ConnectionOptions); // node:tls takes onread too; its types omit it
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

  /** Sets the largest message accepted from now on (checked as each length prefix arrives). */
  setLimit(maxBytes: number): void {
    this.reader.limit = maxBytes;
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
    // a lent body goes back once the socket is done with it (written, or failed)
    if (rest !== undefined && rest.length > 0) this.socket.write(rest, takeLoan(rest));
  }

  close(): void {
    if (!this.socket.destroyed) this.socket.end();
  }
}
