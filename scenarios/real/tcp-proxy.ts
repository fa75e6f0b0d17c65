/**
 * A TCP proxy on loopback between one process of a real run and the NATS server, which the run controls:
 * `open` lets bytes through; `cut` drops every connection and closes new ones at once (a partition: the
 * process's NATS client keeps trying to reconnect); `held` keeps the bytes of both directions, in order, and
 * lets them through late once the proxy opens again (a clog). Each process connects through a proxy of its own.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'open' | 'cut' | 'held';

export class ProxyError extends Error {
  readonly code = 'EPROXY';
  constructor(message: string) {
    super(message);
    this.name = 'ProxyError';
  }
}

/** One proxied connection: the process's socket, the server's, and what a hold keeps of each direction. */
interface Pair {
  client: Socket;
  upstream: Socket;
  toUpstream: Buffer[];
  toClient: Buffer[];
}

const HOST = '127.0.0.1';

export class TcpProxy {
  private mode: ProxyMode = 'open';
  private readonly pairs = new Set<Pair>();
  private closed = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly targetPort: number,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Listens on a free loopback port and forwards to `targetPort` on loopback. */
  static async start(targetPort: number): Promise<TcpProxy> {
    const server = createServer({ noDelay: true });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', (err) => reject(new ProxyError(`cannot listen for a proxy: ${err.message}`)));
      server.listen(0, HOST, () => {
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : 0);
      });
    });
    return new TcpProxy(server, port, targetPort);
  }

  /** The NATS URL the proxied process connects to. */
  get url(): string {
    return `nats://${HOST}:${this.port}`;
  }

  get state(): ProxyMode {
    return this.mode;
  }

  /** Connections through the proxy now. */
  get connections(): number {
    return this.pairs.size;
  }

  /** Drops every connection; new ones are closed as they come until `open`. */
  cut(): void {
    this.mode = 'cut';
    for (const p of [...this.pairs]) this.drop(p);
  }

  /** Keeps every byte from now on (both ways) until `open`, which sends them late, in order. */
  hold(): void {
    if (this.mode === 'open') this.mode = 'held';
  }

  /** Bytes pass again: held ones first. */
  open(): void {
    this.mode = 'open';
    for (const p of this.pairs) this.release(p);
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.mode = 'cut';
    for (const p of [...this.pairs]) this.drop(p);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.mode === 'cut' || this.closed) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: HOST, port: this.targetPort, noDelay: true });
    const pair: Pair = { client, upstream, toUpstream: [], toClient: [] };
    this.pairs.add(pair);
    client.on('data', (chunk: Buffer) => this.forward(pair, chunk, pair.upstream, pair.toUpstream));
    upstream.on('data', (chunk: Buffer) => this.forward(pair, chunk, pair.client, pair.toClient));
    for (const s of [client, upstream]) {
      s.on('error', () => this.drop(pair));
      s.on('close', () => this.drop(pair));
    }
  }

  private forward(pair: Pair, chunk: Buffer, to: Socket, held: Buffer[]): void {
    if (this.mode === 'held') held.push(chunk);
    else if (this.mode === 'open' && this.pairs.has(pair)) to.write(chunk);
  }

  private release(pair: Pair): void {
    for (const chunk of pair.toUpstream.splice(0)) pair.upstream.write(chunk);
    for (const chunk of pair.toClient.splice(0)) pair.client.write(chunk);
  }

  private drop(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream.destroy();
  }
}
