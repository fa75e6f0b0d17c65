/**
 * The processes of a simulated cluster on one clock and one network, and what can happen to them: start,
 * crash (power loss: the disk keeps only what was flushed, the last write maybe torn), restart, pause and
 * resume, a graceful leave, clock skew and drift, and disk faults. Each process is an actor system of its own
 * on its own Environment (sim-process.ts), as it would be a process of its own in production; a broker and an
 * HA controller keep their disk across incarnations.
 */
import pino, { type Logger } from 'pino';
import { SeededRandom } from '../core/random.js';
import { SimClock } from '../core/clock.js';
import { murmur3 } from '../core/hash.js';
import { ActorSystem } from '../actors/runtime/system.js';
import type { Environment } from '../actors/runtime/environment.js';
import { memoryStorage, type MemoryStorage } from '../store/backends/memory.js';
import { faultyStorage, type FaultyStorage } from '../store/backends/faulty.js';
import { memoryNetwork, memoryTransport } from '../transports/memory.js';
import { withFaults, type FaultController } from '../transports/faults.js';
import type { Transport } from '../transports/transport.js';
import type { Frame } from '../transports/frame.js';
import { ProcessClock, ProcessTransport, type TapEvent } from './sim-process.js';

export type ProcessKind = 'namesrv' | 'controller' | 'broker' | 'producer' | 'consumer';

/** Kinds whose disk outlives their incarnations (a crash keeps what was flushed). */
const WITH_DISK: ReadonlySet<ProcessKind> = new Set(['broker', 'controller']);

export interface Role {
  stop(): Promise<void>;
}

/** How to start a process: its role, built in its own actor system. */
export interface ProcessSpec {
  id: string;
  kind: ProcessKind;
  /** The glob of the addresses its actors listen at (network faults aim at it); default by kind (nemesis.ts). */
  address?: string;
  start(actors: ActorSystem, incarnation: number): Promise<Role>;
}

export type ProcessState = 'down' | 'starting' | 'up' | 'leaving';

interface Proc {
  spec: ProcessSpec;
  state: ProcessState;
  incarnation: number;
  clock?: ProcessClock;
  transport?: ProcessTransport;
  role?: Role;
  /** Brokers and controllers: the disk, kept across crashes. */
  disk?: { memory: MemoryStorage; faulty: FaultyStorage };
  /** Skew and drift survive restarts (they belong to the machine). */
  skewMs: number;
  drift: number;
}

export interface SimClusterOptions {
  seed: number;
  /** pino level of the processes' logs (default silent). */
  logLevel?: string;
  /** Every frame, reply and publish of every process. */
  tap?: (process: string, ev: TapEvent) => void;
  /** Each process incarnation's actor system, as it is made (the trace follows its inspection stream). */
  onSystem?: (process: string, actors: ActorSystem) => void;
  /** A timer of a process fired. */
  onTimer?: (process: string) => void;
  /** Answers a process's request in place of its destination (planted bugs: see ProcessTransport). */
  intercept?: (process: string, to: string, frame: Frame) => Frame | undefined;
  /** A process failed to start or to leave: the runner records it. */
  onError?: (process: string, what: string, err: unknown) => void;
}

/** A seed of its own for each process incarnation, so one process's draws do not shift another's. */
function processSeed(seed: number, id: string, incarnation: number): number {
  return murmur3(`${id}/${incarnation}`, seed) >>> 0;
}

export class SimCluster {
  readonly clock = new SimClock(0);
  /** The processes' clocks read the run's clock (plus their skew): its 0 is theirs. */
  readonly epochMs = 0;
  readonly network: FaultController;
  readonly logger: Logger;
  private readonly procs = new Map<string, Proc>();
  private skewSeen = 0;
  private readonly newTransport: () => Transport;

  constructor(private readonly opts: SimClusterOptions) {
    this.logger = pino({ level: opts.logLevel ?? 'silent', base: undefined, timestamp: () => `,"time":${this.clock.now()}` });
    const netRandom = new SeededRandom(processSeed(opts.seed, 'network', 0));
    const factory = withFaults(memoryTransport({ network: memoryNetwork() }));
    this.network = factory.faults;
    const deps = { clock: this.clock, random: netRandom, logger: this.logger };
    this.newTransport = () => factory(deps) as Transport;
  }

  /** An endpoint on the network outside every process (the runner's admin requests), never crashed. */
  endpoint(): Transport {
    return this.newTransport();
  }

  add(spec: ProcessSpec): void {
    if (this.procs.has(spec.id)) throw new Error(`process ${spec.id} is defined twice`);
    this.procs.set(spec.id, { spec, state: 'down', incarnation: 0, skewMs: 0, drift: 0 });
  }

  ids(kind?: ProcessKind): string[] {
    return [...this.procs.values()].filter((p) => kind === undefined || p.spec.kind === kind).map((p) => p.spec.id);
  }

  kind(id: string): ProcessKind {
    return this.proc(id).spec.kind;
  }

  /** The address glob a process said it listens at, if it said. */
  address(id: string): string | undefined {
    return this.proc(id).spec.address;
  }

  state(id: string): ProcessState {
    return this.proc(id).state;
  }

  paused(id: string): boolean {
    return this.proc(id).clock?.isPaused ?? false;
  }

  incarnation(id: string): number {
    return this.proc(id).incarnation;
  }

  role<T extends Role>(id: string): T | undefined {
    const p = this.proc(id);
    return p.state === 'up' ? (p.role as T) : undefined;
  }

  /** A broker's or controller's disk (made on first start). */
  disk(id: string): { memory: MemoryStorage; faulty: FaultyStorage } | undefined {
    return this.proc(id).disk;
  }

  /** Starts a process that is down; resolves once its role runs (the caller drives the clock meanwhile). */
  async start(id: string): Promise<void> {
    const p = this.proc(id);
    if (p.state !== 'down') return;
    p.state = 'starting';
    p.incarnation++;
    const onTimer = this.opts.onTimer;
    const clock = new ProcessClock(this.clock, onTimer && (() => onTimer(id)));
    clock.skew(p.skewMs);
    if (p.drift !== 0) clock.drift(p.drift);
    const logger = this.logger.child({ process: id });
    const random = new SeededRandom(processSeed(this.opts.seed, id, p.incarnation));
    const intercept = this.opts.intercept;
    const transport = new ProcessTransport(this.newTransport(), clock, (ev) => this.opts.tap?.(id, ev), intercept && ((to, f) => intercept(id, to, f)));
    if (WITH_DISK.has(p.spec.kind) && p.disk === undefined) {
      const memory = memoryStorage({ clock: this.clock, random: new SeededRandom(processSeed(this.opts.seed, `${id}/disk`, 0)) });
      p.disk = { memory, faulty: faultyStorage(memory) };
    }
    const storage = p.disk?.faulty ?? memoryStorage({ clock: this.clock, random });
    const env: Environment = { kind: 'simulated', clock, random, storage, transport, logger };
    p.clock = clock;
    p.transport = transport;
    const incarnation = p.incarnation;
    try {
      const actors = new ActorSystem(env);
      this.opts.onSystem?.(id, actors);
      const role = await p.spec.start(actors, incarnation);
      if (p.incarnation !== incarnation || p.state !== 'starting') return; // crashed while starting
      p.role = role;
      p.state = 'up';
    } catch (err) {
      if (p.incarnation !== incarnation || p.state !== 'starting') return;
      this.kill(p);
      this.opts.onError?.(id, 'start', err);
    }
  }

  /** Power loss: the process stops dead; a broker's or controller's disk keeps what was flushed (the last write torn with `tear`). */
  crash(id: string, tear: boolean): void {
    const p = this.proc(id);
    if (p.state === 'down') return;
    this.kill(p);
    if (p.disk) {
      p.disk.faulty.heal();
      p.disk.memory.crash({ tear });
    }
  }

  /** A graceful stop (a consumer or producer leaving, a broker shut down by its operator). */
  async leave(id: string): Promise<void> {
    const p = this.proc(id);
    if (p.state !== 'up') return;
    p.state = 'leaving';
    const incarnation = p.incarnation;
    try {
      await p.role!.stop();
    } catch (err) {
      this.opts.onError?.(id, 'leave', err);
    }
    if (p.incarnation === incarnation && p.state === 'leaving') this.kill(p);
  }

  pause(id: string): void {
    const p = this.proc(id);
    if (p.state !== 'down') p.clock?.pause();
  }

  resume(id: string): void {
    this.proc(id).clock?.resume();
  }

  skew(id: string, ms: number): void {
    const p = this.proc(id);
    this.noteSkew(p);
    p.skewMs += ms;
    if (p.state !== 'down') p.clock?.skew(ms);
    this.noteSkew(p);
  }

  drift(id: string, rate: number): void {
    const p = this.proc(id);
    this.noteSkew(p);
    p.drift = rate;
    if (p.state !== 'down') p.clock?.drift(rate);
  }

  /** The largest difference of a process's clock from the run's so far (the checker's delay tolerance). */
  maxSkewMs(): number {
    for (const p of this.procs.values()) this.noteSkew(p);
    return this.skewSeen;
  }

  /** Kills every process without ceremony: the run is over. */
  shutdown(): void {
    for (const p of this.procs.values()) if (p.state !== 'down') this.kill(p);
  }

  /** Notes how far the process's clock is off now (before a skew or drift changes it, and at the end). */
  private noteSkew(p: Proc): void {
    if (p.clock) this.skewSeen = Math.max(this.skewSeen, Math.abs(p.clock.now() - this.clock.now()));
  }

  private kill(p: Proc): void {
    p.state = 'down';
    p.role = undefined;
    p.clock?.kill();
    const t = p.transport;
    if (t) void t.close().catch(() => undefined); // nothing of a dead process is waited for
  }

  private proc(id: string): Proc {
    const p = this.procs.get(id);
    if (!p) throw new Error(`no process ${id}`);
    return p;
  }
}
