/**
 * The processes of a real run and what can happen to them. Name servers and brokers are `mq namesrv` and
 * `mq broker` child processes (a broker keeps its store directory across incarnations); producers and
 * consumers are embedded clients in the runner's process. Every process reaches NATS through a TCP proxy of
 * its own, so the network faults act per process: cut (a partition), held (a clog), open. A crash is SIGKILL
 * (an embedded client: its system stops dead, its proxy drops its connections), a pause SIGSTOP.
 */
import type { Logger } from 'pino';
import type { MqSystem } from '../../index.js';
import type { Frame } from '../../transports/frame.js';
import type { WorkloadCluster } from '../workload.js';
import { EmbeddedClient, type ClientRole } from './embedded-client.js';
import { MqChild } from './mq-child.js';
import { RunClock } from './run-clock.js';
import { TcpProxy } from './tcp-proxy.js';

export type RealProcessKind = 'namesrv' | 'broker' | 'producer' | 'consumer';

/** A name server or broker: the `mq` arguments given its NATS URL, and the line it prints once ready. */
export interface ChildSpec {
  id: string;
  kind: 'namesrv' | 'broker';
  args(natsUrl: string): string[];
  ready: RegExp;
  /** A broker's store directory (kept across restarts). */
  storeDir?: string;
}

/** A producer or consumer: its role started in its own system (a new client id per incarnation). */
export interface ClientSpec {
  id: string;
  kind: 'producer' | 'consumer';
  start(system: MqSystem, incarnation: number): Promise<ClientRole>;
}

export type RealProcessSpec = ChildSpec | ClientSpec;

export type RealProcessState = 'down' | 'starting' | 'up' | 'leaving';

interface Proc {
  spec: RealProcessSpec;
  state: RealProcessState;
  incarnation: number;
  proxy: TcpProxy;
  child?: MqChild;
  client?: EmbeddedClient;
  paused: boolean;
  /** Cut off by a partition. */
  cut: boolean;
  /** Held by a clog. */
  held: boolean;
}

export interface RealClusterOptions {
  /** The NATS server's port on loopback (the proxies forward there). */
  natsPort: number;
  /** NATS subject prefix of the run. */
  prefix: string;
  /** The `mq` command line's entry script. */
  entry: string;
  /** Log level of the child processes and embedded clients. */
  logLevel: string;
  logger: Logger;
  /** How long a process may take to be ready. */
  startTimeoutMs: number;
  /** Every reply to a request of an embedded client (process id, destination, request, reply). */
  onReply(process: string, to: string, request: Frame, reply: Frame): void;
  /** A process failed to start, to leave, or exited on its own. */
  onError(process: string, what: string, err: unknown): void;
  /** A child process was spawned (the run lists every pid, to check none outlives it). */
  onSpawn?(process: string, pid: number): void;
}

/** How long a killed child may take to be gone before a restart gives up waiting. */
const EXIT_WAIT_MS = 5000;

export class RealCluster implements WorkloadCluster {
  readonly clock = new RunClock();
  private readonly procs = new Map<string, Proc>();

  constructor(private readonly opts: RealClusterOptions) {}

  get epochMs(): number {
    return this.clock.origin;
  }

  /** Adds a process (down) and its proxy. */
  async add(spec: RealProcessSpec): Promise<void> {
    if (this.procs.has(spec.id)) throw new Error(`process ${spec.id} is defined twice`);
    const proxy = await TcpProxy.start(this.opts.natsPort);
    this.procs.set(spec.id, { spec, state: 'down', incarnation: 0, proxy, paused: false, cut: false, held: false });
  }

  ids(kind?: RealProcessKind): string[] {
    return [...this.procs.values()].filter((p) => kind === undefined || p.spec.kind === kind).map((p) => p.spec.id);
  }

  kind(id: string): RealProcessKind {
    return this.proc(id).spec.kind;
  }

  /** Whether the process runs in a child process of its own (name servers, brokers). */
  isChild(id: string): boolean {
    const k = this.kind(id);
    return k === 'namesrv' || k === 'broker';
  }

  state(id: string): RealProcessState {
    return this.proc(id).state;
  }

  paused(id: string): boolean {
    return this.proc(id).paused;
  }

  incarnation(id: string): number {
    return this.proc(id).incarnation;
  }

  /** The pid of a child process's latest incarnation (undefined for embedded clients and before a start). */
  pid(id: string): number | undefined {
    return this.proc(id).child?.pid;
  }

  storeDir(id: string): string | undefined {
    const spec = this.proc(id).spec;
    return 'storeDir' in spec ? spec.storeDir : undefined;
  }

  role<T extends { stop(): Promise<void> }>(id: string): T | undefined {
    const p = this.proc(id);
    return p.state === 'up' ? (p.client?.role as T | undefined) : undefined;
  }

  /**
   * Starts a process that is down; resolves once it is ready. A child's spawn happens at once (its pid is
   * known when this returns its promise), once the previous incarnation is gone.
   */
  start(id: string): Promise<void> {
    const p = this.proc(id);
    if (p.state !== 'down') return Promise.resolve();
    p.state = 'starting';
    p.incarnation++;
    p.paused = false;
    this.applyNetwork(p);
    const incarnation = p.incarnation;
    const spec = p.spec;
    const started = 'args' in spec ? this.startChild(p, spec) : this.startClient(p, spec);
    return started.then(
      () => {
        if (p.incarnation === incarnation && p.state === 'starting') p.state = 'up';
      },
      (err: unknown) => {
        if (p.incarnation !== incarnation || p.state !== 'starting') return; // crashed while starting
        void this.kill(p);
        this.opts.onError(id, 'start', err);
      },
    );
  }

  /** A crash: SIGKILL (a child), or an embedded client's system stops dead with its connections dropped. */
  crash(id: string): Promise<void> {
    const p = this.proc(id);
    if (p.state === 'down') return Promise.resolve();
    return this.kill(p);
  }

  /** A graceful stop: SIGTERM (a child), or the client's system stops with its roles' goodbyes. */
  async leave(id: string): Promise<void> {
    const p = this.proc(id);
    if (p.state !== 'up') return;
    p.state = 'leaving';
    const incarnation = p.incarnation;
    try {
      if (p.child) {
        p.child.signal('SIGCONT');
        p.child.signal('SIGTERM');
        await p.child.waitForExit(EXIT_WAIT_MS * 2);
      } else {
        await p.client?.leave();
      }
    } catch (err) {
      this.opts.onError(id, 'leave', err);
    }
    if (p.incarnation === incarnation && p.state === 'leaving') await this.kill(p);
  }

  /** SIGSTOP for a child process; false for an embedded client (it cannot be stopped alone). */
  pause(id: string): boolean {
    const p = this.proc(id);
    if (!p.child) return false;
    if (p.state !== 'down') {
      p.child.signal('SIGSTOP');
      p.paused = true;
    }
    return true;
  }

  resume(id: string): boolean {
    const p = this.proc(id);
    if (!p.child) return false;
    p.child.signal('SIGCONT');
    p.paused = false;
    return true;
  }

  /** Cuts processes off NATS (a partition) until `heal`. */
  cut(ids: string[]): void {
    for (const id of ids) {
      const p = this.proc(id);
      p.cut = true;
      this.applyNetwork(p);
    }
  }

  /** Holds the bytes of processes (a clog) until `release` or `heal`. */
  hold(ids: string[]): void {
    for (const id of ids) {
      const p = this.proc(id);
      p.held = true;
      this.applyNetwork(p);
    }
  }

  release(ids: string[]): void {
    for (const id of ids) {
      const p = this.proc(id);
      p.held = false;
      this.applyNetwork(p);
    }
  }

  /** Ends every partition and clog. */
  heal(): void {
    for (const p of this.procs.values()) {
      p.cut = false;
      p.held = false;
      this.applyNetwork(p);
    }
  }

  /** Whether some process is cut off or held. */
  get partitioned(): boolean {
    return [...this.procs.values()].some((p) => p.cut || p.held);
  }

  /** Kills every process and closes every proxy: the run is over. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.procs.values()].map((p) => this.kill(p)));
    await Promise.all([...this.procs.values()].map((p) => p.proxy.close()));
    this.clock.clearAll();
  }

  private async startChild(p: Proc, spec: ChildSpec): Promise<void> {
    const previous = p.child;
    if (previous && !previous.exited) await previous.waitForExit(EXIT_WAIT_MS); // else the spawn is synchronous: its pid is known at once
    const child = new MqChild(spec.id, { entry: this.opts.entry, args: spec.args(p.proxy.url), logLevel: this.opts.logLevel === 'silent' ? 'error' : this.opts.logLevel, showLogs: this.opts.logLevel !== 'silent' });
    p.child = child;
    this.opts.onSpawn?.(spec.id, child.pid);
    const incarnation = p.incarnation;
    void child.whenExited().then((exit) => {
      // an exit nobody asked for (a crash sets the state down first)
      if (p.child === child && p.incarnation === incarnation && p.state === 'up') {
        p.state = 'down';
        this.opts.onError(spec.id, 'run', new Error(`exited on its own (${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`})`));
      }
    });
    await child.waitForLine(spec.ready, this.opts.startTimeoutMs);
  }

  private async startClient(p: Proc, spec: ClientSpec): Promise<void> {
    const incarnation = p.incarnation;
    const name = `${spec.id}-${incarnation}`;
    const client = await EmbeddedClient.start(
      {
        url: p.proxy.url,
        prefix: this.opts.prefix,
        name,
        logger: this.opts.logger.child({ process: spec.id }),
        tap: (to, request, reply) => {
          if (p.incarnation === incarnation && p.state !== 'down') this.opts.onReply(spec.id, to, request, reply);
        },
        connectTimeoutMs: this.opts.startTimeoutMs,
      },
      (system) => spec.start(system, incarnation),
    );
    if (p.incarnation !== incarnation || p.state !== 'starting') {
      await client.kill(); // crashed while starting
      return;
    }
    p.client = client;
  }

  private async kill(p: Proc): Promise<void> {
    p.state = 'down';
    p.paused = false;
    const { child, client } = p;
    p.client = undefined;
    if (child && !child.exited) {
      child.signal('SIGKILL');
      await child.waitForExit(EXIT_WAIT_MS);
    }
    if (client) {
      p.proxy.cut(); // nothing it had in flight goes anywhere
      await client.kill().catch((err: unknown) => this.opts.logger.warn({ err, process: p.spec.id }, 'killing an embedded client failed'));
    }
  }

  private applyNetwork(p: Proc): void {
    if (p.cut) p.proxy.cut();
    else if (p.held) p.proxy.hold();
    else if (p.proxy.state !== 'open') p.proxy.open();
  }

  private proc(id: string): Proc {
    const p = this.procs.get(id);
    if (!p) throw new Error(`no process ${id}`);
    return p;
  }
}
