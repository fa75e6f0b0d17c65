/**
 * Draws a fault schedule for one fuzz seed from a scenario's `fuzz` section: 0..maxFaults faults of the allowed
 * kinds, each at a time in the window, on processes of the right kind among the allowed targets, and each fault
 * that lasts healed within `maxFaultMs`. Pure: the same scenario and seed give the same steps, sorted by `at`,
 * each already in the schema's output form (so a trace of the run re-parses to the same timeline).
 */
import { murmur3 } from '../core/hash.js';
import { SeededRandom } from '../core/random.js';
import { brokerProcessIds, faultStep, type FaultKind, type FaultStep, type FuzzSpec, type Scenario } from './scenario-schema.js';

/** Faults that only a process with a disk (a broker) can suffer. */
const BROKER_ONLY: ReadonlySet<FaultKind> = new Set(['bitflip', 'truncate', 'slow-fsync', 'disk-full', 'eio', 'disk-heal']);
/** Faults of client membership: only producers and consumers join and leave. */
const CLIENT_ONLY: ReadonlySet<FaultKind> = new Set(['join', 'leave']);
/** Faults that name no single process (a network rule's ends and an aimed partition are drawn among the targets). */
const NO_TARGET: ReadonlySet<FaultKind> = new Set(['drop', 'duplicate', 'delay', 'partition', 'heal', 'create-topic', 'delete-topic']);

const MAX_RATE = 0.3;
const MAX_DELAY_MS = 500;
const MAX_TRUNCATE_BYTES = 4096;
const MAX_DRIFT = 0.05;
const PARTITIONS = ['isolate', 'halves', 'bridge', 'ring'] as const;
const UNAIMED_PARTITIONS = ['halves', 'ring'] as const;

/** What the draw works from: the processes by kind and the window. */
interface Pool {
  r: SeededRandom;
  s: Scenario;
  spec: FuzzSpec;
  all: string[];
  brokers: string[];
  clients: string[];
  targets: string[];
  from: number;
  until: number;
}

/** The window faults start in: the fuzz section's, or the workloads' span. */
export function fuzzWindow(s: Scenario): { from: number; until: number } {
  const spec = s.fuzz;
  const from = spec?.from ?? (s.workloads.length > 0 ? Math.min(...s.workloads.map((w) => w.from)) : 0);
  const until = spec?.until ?? (s.workloads.length > 0 ? Math.max(...s.workloads.map((w) => w.until)) : from);
  return { from, until: Math.max(from, until) };
}

/** The processes a fault of `kind` may hit (empty: the kind cannot be drawn for this scenario). */
function eligible(p: Pool, kind: FaultKind): string[] {
  if (BROKER_ONLY.has(kind)) return p.targets.filter((t) => p.brokers.includes(t));
  if (CLIENT_ONLY.has(kind)) return p.targets.filter((t) => p.clients.includes(t));
  return p.targets;
}

function pick<T>(r: SeededRandom, xs: readonly T[]): T {
  return xs[r.int(xs.length)]!;
}

/** An integer in [min, max]. */
function between(r: SeededRandom, min: number, max: number): number {
  return min + r.int(max - min + 1);
}

/** How long a drawn fault lasts: 1..maxFaultMs (0 when maxFaultMs is 0). */
function lasting(p: Pool): number {
  return p.spec.maxFaultMs === 0 ? 0 : between(p.r, 1, p.spec.maxFaultMs);
}

/** A rate in (0, MAX_RATE], three decimals. */
function rate(r: SeededRandom): number {
  return Math.max(1, Math.round((1 - r.next()) * MAX_RATE * 1000)) / 1000;
}

/** `*` or one of the allowed targets: the end of a network rule. */
function endpoint(p: Pool): string {
  return p.targets.length === 0 || p.r.int(2) === 0 ? '*' : pick(p.r, p.targets);
}

/** The steps of one fault (two for a `leave`: the client joins again within maxFaultMs). */
function drawFault(p: Pool, kind: FaultKind, at: number, target: string): FaultStep[] {
  const { r } = p;
  switch (kind) {
    case 'crash':
      return [{ at, do: 'crash', target, tear: r.int(2) === 0, restartAfter: lasting(p) }];
    case 'restart':
    case 'resume':
    case 'disk-heal':
    case 'join':
      return [{ at, do: kind, target }];
    case 'pause':
    case 'slow-fsync':
    case 'disk-full':
    case 'eio':
      return [{ at, do: kind, target, for: lasting(p) }];
    case 'drop':
    case 'duplicate':
      return [{ at, do: kind, from: endpoint(p), to: endpoint(p), rate: rate(r), for: lasting(p) }];
    case 'delay': {
      const min = r.int(MAX_DELAY_MS + 1);
      return [{ at, do: 'delay', from: endpoint(p), to: endpoint(p), ms: { min, max: between(r, min, MAX_DELAY_MS) }, for: lasting(p) }];
    }
    case 'clog':
      return [{ at, do: 'clog', between: [target, pick(r, p.all.filter((x) => x !== target))], for: lasting(p) }];
    case 'partition': {
      const kindOf = pick(r, p.targets.length > 0 ? PARTITIONS : UNAIMED_PARTITIONS);
      const aimed = kindOf === 'isolate' || kindOf === 'bridge' ? { target: pick(r, p.targets) } : {};
      return [{ at, do: 'partition', kind: kindOf, ...aimed, oneWay: r.int(4) === 0, for: lasting(p) }];
    }
    case 'heal':
      return [{ at, do: 'heal' }];
    case 'bitflip':
      return [{ at, do: 'bitflip', target }];
    case 'truncate':
      return [{ at, do: 'truncate', target, bytes: between(r, 1, MAX_TRUNCATE_BYTES) }];
    case 'skew': {
      const most = Math.min(p.spec.maxFaultMs, 10_000);
      return [{ at, do: 'skew', target, ms: between(r, -most, most) }];
    }
    case 'drift':
      return [{ at, do: 'drift', target, rate: between(r, -MAX_DRIFT * 1000, MAX_DRIFT * 1000) / 1000 }];
    case 'leave':
      return [
        { at, do: 'leave', target },
        { at: Math.min(p.until, at + lasting(p)), do: 'join', target },
      ];
    case 'create-topic':
      return [{ at, do: 'create-topic', topic: { name: `fuzz-topic-${r.int(1000)}`, queues: between(r, 1, 8), ordered: false } }];
    case 'delete-topic':
      return [{ at, do: 'delete-topic', name: pick(r, p.s.topology.topics).name }];
  }
}

function poolOf(s: Scenario, spec: FuzzSpec, seed: number): Pool {
  const t = s.topology;
  const brokers = brokerProcessIds(t.brokers);
  const clients = [...t.producers.map((x) => x.id), ...t.consumers.map((x) => x.id)];
  const targets = spec.targets ?? [...brokers, ...t.consumers.map((c) => c.id)];
  return {
    // a stream of its own: the run draws from the seed through another mix
    r: new SeededRandom(murmur3('fuzz-schedule', seed >>> 0) >>> 0),
    s,
    spec,
    all: [...t.namesrv, ...t.controllers.map((c) => c.id), ...brokers, ...clients],
    brokers,
    clients,
    targets,
    ...fuzzWindow(s),
  };
}

/** The fault schedule of `seed` for a scenario with a `fuzz` section (none without one). */
export function drawSchedule(s: Scenario, seed: number): FaultStep[] {
  const spec = s.fuzz;
  if (!spec) return [];
  const p = poolOf(s, spec, seed);
  const kinds = spec.faults.filter((k) => NO_TARGET.has(k) || eligible(p, k).length > 0);
  if (kinds.length === 0) return [];
  const count = p.r.int(spec.maxFaults + 1);
  const steps: FaultStep[] = [];
  for (let i = 0; i < count; i++) {
    const kind = pick(p.r, kinds);
    const at = between(p.r, p.from, p.until);
    const target = NO_TARGET.has(kind) ? '' : pick(p.r, eligible(p, kind));
    for (const st of drawFault(p, kind, at, target)) steps.push(faultStep.parse(st));
  }
  return steps.sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
}

