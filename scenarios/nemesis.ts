/**
 * The nemesis: applies a scenario's fault steps to a simulated cluster and writes each into the history (an
 * `info` operation of the process `nemesis`). Network faults speak process ids; they become address globs
 * here. Faults with `for` heal themselves when it passes; `healAll` ends every fault at the drain (network
 * healed, paused processes resumed, disks healed, crashed processes restarted).
 */
import type { RandomSource } from '../core/random.js';
import { scanRecord, RecordFields, Scan, recordSizeAt, RecordLayout } from '../core/record-layout.js';
import { readU32 } from '../core/bytes.js';
import type { FaultRule } from '../transports/faults.js';
import type { HistoryLog } from './history.js';
import type { FaultStep, TopicSpec } from './scenario-schema.js';
import type { SimCluster } from './sim-cluster.js';

/** What a nemesis works with, simulated (`SimCluster`) or real (`RealCluster`). */
export interface NemesisDeps<C = SimCluster> {
  cluster: C;
  history: HistoryLog;
  random: RandomSource;
  createTopic(topic: TopicSpec): Promise<void>;
  deleteTopic(name: string): Promise<void>;
  /** Message ids whose stored bytes a storage fault destroyed. */
  onDestroyed(ids: string[]): void;
  /** Reports a step that failed to apply (the runner records it as an error of the run). */
  onError(what: string, err: unknown): void;
}

/** Addresses of a process: what its actors listen at. */
export function addressGlob(cluster: SimCluster, id: string): string {
  const own = cluster.address(id);
  if (own !== undefined) return own;
  switch (cluster.kind(id)) {
    case 'namesrv':
      return `namesrv.${id}`;
    case 'controller':
      return `controller.${id}`;
    case 'broker':
      return `broker.${id}.*`;
    default:
      return `client.${id}-*`;
  }
}

export class Nemesis {
  private rules: { rule: FaultRule; id: number }[] = [];
  private nextRule = 0;
  /** Processes crashed by a step and not restarted yet (restarted at the drain). */
  private readonly crashed = new Set<string>();
  private readonly paused = new Set<string>();
  private readonly diskFaults = new Set<string>();

  constructor(private readonly d: NemesisDeps) {}

  apply(step: FaultStep): void {
    const { cluster, history } = this.d;
    const { at: _at, when: _when, do: _do, ...detail } = step;
    const targets = this.targetsOf(step);
    history.add('nemesis', 'info', step.do, { ...detail, targets });
    switch (step.do) {
      case 'crash':
        cluster.crash(step.target, step.tear);
        this.crashed.add(step.target);
        if (step.restartAfter !== undefined) this.later(step.restartAfter, { do: 'restart', target: step.target });
        return;
      case 'restart':
        this.restart(step.target);
        return;
      case 'pause':
        cluster.pause(step.target);
        this.paused.add(step.target);
        this.later(step.for, { do: 'resume', target: step.target });
        return;
      case 'resume':
        cluster.resume(step.target);
        this.paused.delete(step.target);
        return;
      case 'drop':
      case 'duplicate':
      case 'delay': {
        const rule: FaultRule = { from: this.glob(step.from), to: this.glob(step.to) };
        if (step.do === 'drop') rule.drop = step.rate;
        else if (step.do === 'duplicate') rule.duplicate = step.rate;
        else rule.delay = { minMs: step.ms.min, maxMs: step.ms.max };
        this.addRules([rule], step.for);
        return;
      }
      case 'clog': {
        const [a, b] = step.between.map((id) => addressGlob(cluster, id)) as [string, string];
        const delay = { minMs: step.for, maxMs: step.for };
        this.addRules([{ from: a, to: b, delay }, { from: b, to: a, delay }], step.for);
        return;
      }
      case 'partition':
        this.partition(step);
        return;
      case 'heal':
        this.healNetwork();
        return;
      case 'bitflip':
      case 'truncate':
        this.corrupt(step);
        return;
      case 'slow-fsync':
        this.disk(step.target).hangFlushes();
        this.diskFaults.add(step.target);
        this.later(step.for, { do: 'disk-heal', target: step.target });
        return;
      case 'disk-full':
      case 'eio':
        this.disk(step.target).failWrites(step.do === 'eio' ? 'EIO' : 'ENOSPC');
        this.diskFaults.add(step.target);
        if (step.for !== undefined) this.later(step.for, { do: 'disk-heal', target: step.target });
        return;
      case 'disk-heal':
        this.disk(step.target).heal();
        this.diskFaults.delete(step.target);
        return;
      case 'skew':
        cluster.skew(step.target, step.ms);
        return;
      case 'drift':
        cluster.drift(step.target, step.rate);
        return;
      case 'join':
        this.crashed.delete(step.target);
        void cluster.start(step.target);
        return;
      case 'leave':
        void cluster.leave(step.target);
        return;
      case 'create-topic':
        this.d.createTopic(step.topic).catch((err: unknown) => this.d.onError(`create-topic ${step.topic.name}`, err));
        return;
      case 'delete-topic':
        this.d.deleteTopic(step.name).catch((err: unknown) => this.d.onError(`delete-topic ${step.name}`, err));
        return;
    }
  }

  /** Whether some fault is still in force (a drain waits for none). */
  get active(): boolean {
    return this.rules.length > 0 || this.d.cluster.network.partitioned || this.crashed.size > 0 || this.paused.size > 0 || this.diskFaults.size > 0;
  }

  /** Ends every fault: the network heals, paused processes resume, disks heal, crashed processes restart. */
  healAll(): void {
    if (this.rules.length > 0 || this.d.cluster.network.partitioned) this.apply({ do: 'heal' });
    for (const id of [...this.paused]) this.apply({ do: 'resume', target: id });
    for (const id of [...this.diskFaults]) this.apply({ do: 'disk-heal', target: id });
    for (const id of [...this.crashed]) this.apply({ do: 'restart', target: id });
  }

  /**
   * A process the nemesis (re)started could not start (a broker on a full disk): written into the history, and
   * started again at the drain, once every fault has healed.
   */
  startFailed(id: string, reason: string): void {
    this.d.history.add('nemesis', 'info', 'start-failed', { targets: [id], reason });
    this.crashed.add(id);
  }

  private restart(id: string): void {
    this.crashed.delete(id);
    const { cluster } = this.d;
    if (cluster.state(id) !== 'down') return;
    cluster.start(id).catch((err: unknown) => this.d.onError(`restart ${id}`, err));
  }

  private later(ms: number, step: FaultStep): void {
    this.d.cluster.clock.setTimeout(() => this.apply(step), ms);
  }

  private glob(idOrGlob: string): string {
    return this.d.cluster.ids().includes(idOrGlob) ? addressGlob(this.d.cluster, idOrGlob) : idOrGlob;
  }

  private addRules(rules: FaultRule[], forMs: number | undefined): void {
    const ids = rules.map((rule) => {
      const id = this.nextRule++;
      this.rules.push({ rule, id });
      return id;
    });
    this.d.cluster.network.setRules(this.rules.map((r) => r.rule));
    if (forMs !== undefined) {
      this.d.cluster.clock.setTimeout(() => {
        this.rules = this.rules.filter((r) => !ids.includes(r.id));
        this.d.cluster.network.setRules(this.rules.map((r) => r.rule));
      }, forMs);
    }
  }

  private healNetwork(): void {
    this.rules = [];
    this.d.cluster.network.setRules([]);
    this.d.cluster.network.heal();
  }

  private partition(step: Extract<FaultStep, { do: 'partition' }>): void {
    const { cluster } = this.d;
    const pairs = partitionSides(step, cluster.ids(), this.d.random);
    const globs = (ids: string[]): string[] => ids.map((id) => addressGlob(cluster, id));
    if (step.oneWay) {
      const rules: FaultRule[] = [];
      for (const [a, b] of pairs) for (const from of globs(a)) for (const to of globs(b)) rules.push({ from, to, drop: 1 });
      this.addRules(rules, step.for);
      return;
    }
    for (const [a, b] of pairs) cluster.network.partition(globs(a), globs(b));
    if (step.for !== undefined) this.later(step.for, { do: 'heal' });
  }

  private disk(id: string) {
    const disk = this.d.cluster.disk(id);
    if (!disk) throw new Error(`${id} has no disk (only brokers and controllers do)`);
    return disk.faulty;
  }

  /**
   * Bit rot or a cut file at a power loss: the broker crashes, one bit of the body of a record in the middle of
   * its newest commit log segment flips (or the segment's last bytes go), and it restarts. The ids of messages
   * whose stored bytes were hit are written into the history (`destroyed`): the checker does not count them lost.
   */
  private corrupt(step: Extract<FaultStep, { do: 'bitflip' | 'truncate' }>): void {
    const { cluster, history } = this.d;
    if (cluster.state(step.target) !== 'down') cluster.crash(step.target, false);
    const disk = cluster.disk(step.target);
    if (!disk) return;
    const storage = disk.memory;
    const dir = `/${step.target}/commitlog`;
    const segments = storage.exists(dir) ? storage.list(dir).sort() : [];
    const last = segments.at(-1);
    let destroyed: string[] = [];
    if (last !== undefined) {
      const file = storage.open(`${dir}/${last}`);
      const size = file.size();
      const bytes = file.read(0, size);
      const records = recordsOf(bytes);
      if (step.do === 'bitflip' && records.length > 0) {
        const r = records[Math.floor(records.length / 2)]!;
        const pos = r.body + this.d.random.int(Math.max(1, r.bodyLength));
        file.write(pos, Uint8Array.of(bytes[pos]! ^ (1 << this.d.random.int(8))));
        destroyed = [r.id];
      } else if (step.do === 'truncate') {
        const end = records.length > 0 ? records.at(-1)!.end : 0;
        const cut = Math.max(0, end - step.bytes);
        destroyed = records.filter((r) => r.end > cut).map((r) => r.id);
        file.truncate(cut);
      }
      void file.flush();
    }
    history.add('nemesis', 'info', `${step.do}-applied`, { targets: [step.target], destroyed });
    this.d.onDestroyed(destroyed);
    this.restart(step.target);
  }

  private targetsOf(step: FaultStep): string[] {
    if ('target' in step && typeof step.target === 'string') return [step.target];
    if (step.do === 'clog') return [...step.between];
    if (step.do === 'partition' && step.sides) return [...step.sides[0], ...step.sides[1]];
    return [];
  }
}

/**
 * The pairs of sides a partition step cuts apart, as process ids (`all`: every process of the run). Halves,
 * bridge and ring shuffle the processes with `random` (drawn for every kind, so the draws do not depend on it).
 */
export function partitionSides(step: Extract<FaultStep, { do: 'partition' }>, all: string[], random: RandomSource): [string[], string[]][] {
  const shuffled = [...all];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const half = Math.ceil(shuffled.length / 2);
  switch (step.kind) {
    case 'isolate': {
      const one = step.target ?? shuffled[0]!;
      return [[[one], all.filter((x) => x !== one)]];
    }
    case 'halves':
      return [[shuffled.slice(0, half), shuffled.slice(half)]];
    case 'bridge': {
      // the bridge (the first of the shuffle, or the target) sees both halves; the halves do not see each other
      const bridge = step.target ?? shuffled[0]!;
      const rest = shuffled.filter((x) => x !== bridge);
      const h = Math.ceil(rest.length / 2);
      return [[rest.slice(0, h), rest.slice(h)]];
    }
    case 'ring': {
      // each process sees only its two neighbours in a shuffled ring
      const pairs: [string[], string[]][] = [];
      const n = shuffled.length;
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          const d = Math.min(j - i, n - (j - i));
          if (d > 1) pairs.push([[shuffled[i]!], [shuffled[j]!]]);
        }
      }
      return pairs;
    }
    case 'sides':
      if (!step.sides) throw new Error('a partition of kind sides needs `sides`');
      return [[step.sides[0], step.sides[1]]];
  }
}

/** The records of a segment: where each body is, and the message id its body starts with. */
export function recordsOf(buf: Uint8Array): { body: number; bodyLength: number; end: number; id: string }[] {
  const out: { body: number; bodyLength: number; end: number; id: string }[] = [];
  const f = new RecordFields();
  const decoder = new TextDecoder();
  for (let pos = 0; pos + 8 <= buf.length; ) {
    if (readU32(buf, pos + 4) !== RecordLayout.Magic) break;
    const size = recordSizeAt(buf, pos);
    if (size <= 0 || pos + size > buf.length) break;
    if (scanRecord(buf, pos, pos + size, f) === Scan.Ok) {
      const body = decoder.decode(buf.subarray(f.body, f.body + Math.min(f.bodyLength, 80)));
      out.push({ body: f.body, bodyLength: f.bodyLength, end: pos + size, id: body.split('\n')[0]! });
    }
    pos += size;
  }
  return out;
}
