/**
 * The nemesis of a real run: applies a scenario's fault steps to real processes and writes each into the
 * history, as the simulated one does (an `info` operation of the process `nemesis`), with what was done (the
 * signal and pid, the processes cut off). Faults real processes on one machine cannot have (drop, duplicate
 * and delay rates, disk faults, clock skew and drift, one-way, ring and bridge partitions, pausing an embedded
 * client) are recorded with `skipped: true` and a reason, and listed in `skipped`. A partition cuts the
 * processes of its smaller side off NATS (the server stays with the larger one).
 */
import { readdirSync, readFileSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { partitionSides, recordsOf, type NemesisDeps } from '../nemesis.js';
import { stepProcesses, type FaultStep } from '../scenario-schema.js';
import type { RealCluster } from './real-cluster.js';

export type RealNemesisDeps = NemesisDeps<RealCluster>;

/** Why a fault kind does not exist on a real run. */
const NOT_REAL: Partial<Record<FaultStep['do'], string>> = {
  drop: 'no loss rates on a real network',
  duplicate: 'no duplication rates on a real network',
  delay: 'no delay rates on a real network',
  'slow-fsync': 'no disk faults on a real disk',
  'disk-full': 'no disk faults on a real disk',
  eio: 'no disk faults on a real disk',
  'disk-heal': 'no disk faults on a real disk',
  skew: 'one machine has one clock',
  drift: 'one machine has one clock',
};

export class RealNemesis {
  /** Faults recorded but not applied, one line each (`drop: no loss rates on a real network`). */
  readonly skipped: string[] = [];
  private readonly crashed = new Set<string>();
  private readonly paused = new Set<string>();
  /** Steps still applying (storage faults wait for their broker to die): the drain waits for them. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly d: RealNemesisDeps) {}

  apply(step: FaultStep): void {
    const reason = this.whyNot(step);
    if (reason !== undefined) return this.skip(step, reason);
    const { cluster } = this.d;
    switch (step.do) {
      case 'crash': {
        const child = cluster.isChild(step.target);
        this.record(step, child ? { signal: 'SIGKILL', pid: cluster.pid(step.target) } : { abrupt: true });
        this.track(cluster.crash(step.target));
        this.crashed.add(step.target);
        if (step.restartAfter !== undefined) this.later(step.restartAfter, { do: 'restart', target: step.target });
        return;
      }
      case 'restart':
        this.record(step, this.restart(step.target));
        return;
      case 'pause':
        cluster.pause(step.target);
        this.paused.add(step.target);
        this.record(step, { signal: 'SIGSTOP', pid: cluster.pid(step.target) });
        this.later(step.for, { do: 'resume', target: step.target });
        return;
      case 'resume':
        cluster.resume(step.target);
        this.paused.delete(step.target);
        this.record(step, { signal: 'SIGCONT', pid: cluster.pid(step.target) });
        return;
      case 'clog':
        cluster.hold(step.between);
        this.record(step, { held: [...step.between] });
        this.d.cluster.clock.setTimeout(() => cluster.release(step.between), step.for);
        return;
      case 'partition': {
        const cut = partitionSides(step, cluster.ids(), this.d.random).map(([a, b]) => (b.length < a.length ? b : a)).flat();
        cluster.cut(cut);
        this.record(step, { cut });
        if (step.for !== undefined) this.later(step.for, { do: 'heal' });
        return;
      }
      case 'heal':
        cluster.heal();
        this.record(step, {});
        return;
      case 'bitflip':
      case 'truncate':
        this.record(step, {});
        this.track(this.corrupt(step));
        return;
      case 'join':
        this.crashed.delete(step.target);
        this.record(step, {});
        this.track(cluster.start(step.target));
        return;
      case 'leave':
        this.record(step, {});
        this.track(cluster.leave(step.target));
        return;
      case 'create-topic':
        this.record(step, {});
        this.track(this.d.createTopic(step.topic).catch((err: unknown) => this.d.onError(`create-topic ${step.topic.name}`, err)));
        return;
      case 'delete-topic':
        this.record(step, {});
        this.track(this.d.deleteTopic(step.name).catch((err: unknown) => this.d.onError(`delete-topic ${step.name}`, err)));
        return;
      default:
        return this.skip(step, 'not a fault of real runs');
    }
  }

  /** Ends every fault: the network heals, paused processes resume, crashed processes restart. */
  healAll(): void {
    if (this.d.cluster.partitioned) this.apply({ do: 'heal' });
    for (const id of [...this.paused]) this.apply({ do: 'resume', target: id });
    for (const id of [...this.crashed]) this.apply({ do: 'restart', target: id });
  }

  /** Resolves once every step started so far has finished applying (restarts are ready, topics made). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private whyNot(step: FaultStep): string | undefined {
    const fixed = NOT_REAL[step.do];
    if (fixed !== undefined) return fixed;
    if (step.do === 'partition') {
      if (step.oneWay) return 'a one-way partition needs per-frame rules';
      if (step.kind === 'ring' || step.kind === 'bridge') return `a ${step.kind} partition needs per-pair links (each process has one link to NATS)`;
    }
    if ((step.do === 'pause' || step.do === 'resume') && !this.d.cluster.isChild(step.target)) return 'an embedded client shares the runner process (it cannot be stopped alone)';
    return undefined;
  }

  private skip(step: FaultStep, reason: string): void {
    const { at: _at, when: _when, do: _do, ...detail } = step;
    this.d.history.add('nemesis', 'info', step.do, { ...detail, targets: stepProcesses(step), skipped: true, reason });
    const target = stepProcesses(step);
    this.skipped.push(`${step.do}${target.length > 0 ? ` ${target.join(',')}` : ''}: ${reason}`);
  }

  private record(step: FaultStep, done: Record<string, unknown>): void {
    const { at: _at, when: _when, do: _do, ...detail } = step;
    this.d.history.add('nemesis', 'info', step.do, { ...detail, targets: stepProcesses(step), ...done });
  }

  /** Starts a crashed process again; what was started (the new pid of a child). */
  private restart(id: string): Record<string, unknown> {
    this.crashed.delete(id);
    const { cluster } = this.d;
    if (cluster.state(id) !== 'down') return { already: cluster.state(id) };
    this.track(cluster.start(id));
    return cluster.isChild(id) ? { pid: cluster.pid(id) } : { incarnation: cluster.incarnation(id) };
  }

  private later(ms: number, step: FaultStep): void {
    this.d.cluster.clock.setTimeout(() => this.apply(step), ms);
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err: unknown) => this.d.onError('a fault step', err)).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /**
   * Bit rot or a cut file at a power loss, on the broker's real files: it is killed (SIGKILL) and gone, one bit
   * of the body of a record in the middle of its newest commit log segment flips (or the segment's last bytes
   * go), and it starts again. The ids of the messages hit go into the history (`destroyed`).
   */
  private async corrupt(step: Extract<FaultStep, { do: 'bitflip' | 'truncate' }>): Promise<void> {
    const { cluster, history } = this.d;
    await cluster.crash(step.target);
    const storeDir = cluster.storeDir(step.target);
    let destroyed: string[] = [];
    const dir = storeDir === undefined ? undefined : join(storeDir, 'commitlog');
    const last = dir !== undefined && existsSync(dir) ? readdirSync(dir).sort().at(-1) : undefined;
    if (dir !== undefined && last !== undefined) {
      const file = join(dir, last);
      const bytes = new Uint8Array(readFileSync(file));
      const records = recordsOf(bytes);
      if (step.do === 'bitflip' && records.length > 0) {
        const r = records[Math.floor(records.length / 2)]!;
        const pos = r.body + this.d.random.int(Math.max(1, r.bodyLength));
        bytes[pos] = bytes[pos]! ^ (1 << this.d.random.int(8));
        writeFileSync(file, bytes);
        destroyed = [r.id];
      } else if (step.do === 'truncate') {
        const end = records.length > 0 ? records.at(-1)!.end : 0;
        const cut = Math.max(0, end - step.bytes);
        destroyed = records.filter((r) => r.end > cut).map((r) => r.id);
        truncateSync(file, cut);
      }
    }
    history.add('nemesis', 'info', `${step.do}-applied`, { targets: [step.target], destroyed });
    this.d.onDestroyed(destroyed);
    this.record({ do: 'restart', target: step.target }, this.restart(step.target));
  }
}
