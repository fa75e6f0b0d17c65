/**
 * A producer or consumer of a real run, inside the runner's process: a system of its own (`startSystem`) on a
 * NATS transport of its own, through its process's proxy, with direct links off (every byte passes the proxy).
 * The transport is tapped: every reply to one of its requests is reported (the run records offset commits and
 * reads from it). It stops gracefully (`leave`) or dead (`kill`: a crash, no goodbye).
 */
import type { Logger } from 'pino';
import type { Observable } from 'rxjs';
import { startSystem, natsTransport, type MqSystem } from '../../index.js';
import type { Frame } from '../../transports/frame.js';
import type { Incoming, RequestOptions, SendOptions, Transport, TransportFactory, TransportState } from '../../transports/transport.js';

/** What a client's process runs: started in its system, stopped gracefully. */
export interface ClientRole {
  stop(): Promise<void>;
}

/** Sees each reply to a request of the client: where it went, the request, the reply. */
export type ReplyTap = (to: string, request: Frame, reply: Frame) => void;

/** A transport that reports every reply to its requests; everything else passes as is. */
export class TappedTransport implements Transport {
  constructor(
    private readonly inner: Transport,
    private readonly tap: ReplyTap,
  ) {}

  get kind(): Transport['kind'] {
    return this.inner.kind;
  }

  get maxPayload(): number {
    return this.inner.maxPayload;
  }

  get state$(): Observable<TransportState> {
    return this.inner.state$;
  }

  inbox(address: string): Observable<Incoming> {
    return this.inner.inbox(address);
  }

  async request(to: string, frame: Frame, opts?: RequestOptions): Promise<Frame> {
    const reply = await this.inner.request(to, frame, opts);
    this.tap(to, frame, reply);
    return reply;
  }

  send(to: string, frame: Frame, opts?: SendOptions): void {
    this.inner.send(to, frame, opts);
  }

  publish(subject: string, frame: Frame, opts?: SendOptions): void {
    this.inner.publish(subject, frame, opts);
  }

  subscribe(subject: string): Observable<Frame> {
    return this.inner.subscribe(subject);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface EmbeddedClientOptions {
  /** The NATS URL of the client's proxy. */
  url: string;
  prefix: string;
  /** The NATS connection's name (the client id). */
  name: string;
  logger: Logger;
  tap: ReplyTap;
  /** How long the first connect may take. */
  connectTimeoutMs: number;
}

export class EmbeddedClient {
  private constructor(
    private readonly system: MqSystem,
    readonly role: ClientRole,
  ) {}

  /** Connects a system of its own and starts the role in it; a failed start leaves nothing running. */
  static async start(opts: EmbeddedClientOptions, startRole: (system: MqSystem) => Promise<ClientRole>): Promise<EmbeddedClient> {
    const nats = natsTransport({ servers: opts.url, prefix: opts.prefix, name: opts.name, direct: false, connectTimeoutMs: opts.connectTimeoutMs });
    const transport: TransportFactory = async (deps) => new TappedTransport(await nats(deps), opts.tap);
    const system = await startSystem({ transport, logger: opts.logger });
    try {
      return new EmbeddedClient(system, await startRole(system));
    } catch (err) {
      await system.kill();
      throw err;
    }
  }

  /** A graceful stop: the role says goodbye (a consumer commits its offsets and leaves its group). */
  leave(): Promise<void> {
    return this.system.stop();
  }

  /** Stops dead: actors and transport, no goodbye. */
  kill(): Promise<void> {
    return this.system.kill();
  }
}
