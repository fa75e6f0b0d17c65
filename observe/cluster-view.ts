/**
 * The console's model of a cluster: what the observation stream said so far, folded record by record. The live
 * console and time travel share it (the browser imports this file as an ES module; so does the terminal
 * viewer): a live view applies each record as it comes, a trace's view at time t is the fold of its records up to
 * t (`viewAt`, and `Timeline` with checkpoints for scrubbing).
 *
 * `applyRecord` mutates the view in place and is cheap (no copy of the view, O(1) per record). What it stores
 * besides the actors (machine definitions, stats samples, recent events) is never mutated afterwards, so
 * `cloneView` copies only the actors and the maps. Pure and free of Node and the DOM.
 */
import type { MachineDefinition } from '../actors/runtime/inspection.js';
import type { RoleStats } from '../actors/protocol/observe.js';
import type { ObservedRecord } from './source.js';
import { formatState } from './state-value.js';

/** Events kept per actor. */
export const RECENT_EVENTS = 25;
/** Actors kept at most: past it, stopped child actors go first, then the oldest stopped root actors. */
export const MAX_ACTORS = 4000;

export interface RecentEvent {
  seq: number;
  time: number;
  event: string;
  /** The state after the event (snapshot records), as text. */
  state?: string;
}

export interface ActorView {
  /** `source|address|actorId`. */
  key: string;
  source: string;
  address: string;
  actorId: string;
  /** Key of its machine definition (in `machines[source]`), when it runs a state machine. */
  machine?: string;
  parent?: string;
  /** The hosted actor itself (its id is its address), not a child it invoked. */
  root: boolean;
  /** Latest state value and status ('active' | 'done' | 'error' | 'stopped'). */
  state?: unknown;
  status?: string;
  lastEvent?: string;
  /** Time of its first and latest record. */
  since: number;
  lastTime: number;
  /** Time its state value last changed. */
  stateSince: number;
  /** Newest last, at most RECENT_EVENTS. */
  events: RecentEvent[];
}

/** One figures sample of a role. */
export interface StatsSample<S extends RoleStats = RoleStats> {
  time: number;
  stats: S;
}

/** A role's latest figures and the sample before (rates come from the two). */
export interface RoleEntry<S extends RoleStats = RoleStats> {
  source: string;
  address: string;
  latest: StatsSample<S>;
  previous?: StatsSample<S>;
}

export interface ClusterView {
  /** Time of the latest record applied (the Environment's clock; simulated in a scenario). */
  time: number;
  /** Records applied. */
  records: number;
  /** Latest sequence number applied, per source. */
  lastSeq: Map<string, number>;
  /** Machine definitions: source -> machine key -> definition. */
  machines: Map<string, Map<string, MachineDefinition>>;
  /** Actors by `source|address|actorId`. */
  actors: Map<string, ActorView>;
  /** Roles' figures by `source|address`. */
  roles: Map<string, RoleEntry>;
  /** Records each source dropped (the sources' counts as last reported). */
  dropped: Map<string, number>;
}

export function emptyView(): ClusterView {
  return { time: 0, records: 0, lastSeq: new Map(), machines: new Map(), actors: new Map(), roles: new Map(), dropped: new Map() };
}

export const actorKey = (source: string, address: string, actorId: string): string => `${source}|${address}|${actorId}`;
export const roleKey = (source: string, address: string): string => `${source}|${address}`;

/**
 * The role an address names: `broker.a.0` -> 'broker', `namesrv.ns-1` -> 'namesrv'; a client by its generated
 * id (`client.producer-...`, `client.consumer-...`), else 'client'.
 */
export function roleOfAddress(address: string): string {
  if (address.startsWith('client.producer-')) return 'producer';
  if (address.startsWith('client.consumer-')) return 'consumer';
  const dot = address.indexOf('.');
  return dot < 0 ? address : address.slice(0, dot);
}

/** Folds one record into the view (in place); returns the view. */
export function applyRecord(view: ClusterView, rec: ObservedRecord): ClusterView {
  view.records++;
  if (rec.time > view.time) view.time = rec.time;
  const seq = view.lastSeq.get(rec.source);
  if (seq === undefined || rec.seq > seq) view.lastSeq.set(rec.source, rec.seq);
  switch (rec.kind) {
    case 'machine': {
      let defs = view.machines.get(rec.source);
      if (defs === undefined) view.machines.set(rec.source, (defs = new Map()));
      defs.set(rec.machine, rec.definition); // compact already (toInspectionRecords)
      break;
    }
    case 'actor': {
      // A new start of the same actor (a restart) begins a fresh entry.
      const a = newActor(rec);
      if (rec.machine !== undefined) a.machine = rec.machine;
      if (rec.parent !== undefined) a.parent = rec.parent;
      view.actors.delete(a.key);
      view.actors.set(a.key, a);
      bound(view);
      break;
    }
    case 'event': {
      const a = actorOf(view, rec);
      a.lastEvent = rec.event;
      a.lastTime = rec.time;
      pushEvent(a, { seq: rec.seq, time: rec.time, event: rec.event });
      break;
    }
    case 'snapshot': {
      const a = actorOf(view, rec);
      const before = formatState(a.state, a.status);
      a.state = rec.state;
      if (rec.status !== undefined) a.status = rec.status;
      a.lastEvent = rec.event;
      a.lastTime = rec.time;
      const after = formatState(a.state, a.status);
      if (after !== before) a.stateSince = rec.time;
      // The snapshot follows the event record of the same event: put the new state on that entry.
      const last = a.events[a.events.length - 1];
      if (last !== undefined && last.event === rec.event && last.state === undefined && last.time === rec.time) {
        a.events[a.events.length - 1] = { ...last, state: after };
      } else pushEvent(a, { seq: rec.seq, time: rec.time, event: rec.event, state: after });
      // Children that ended (promises, timers) leave; hosted actors stay, shown as stopped.
      if (!a.root && a.status !== undefined && a.status !== 'active') view.actors.delete(a.key);
      break;
    }
    case 'stats': {
      const key = roleKey(rec.source, rec.address);
      const entry = view.roles.get(key);
      const sample: StatsSample = { time: rec.time, stats: rec.stats };
      if (entry === undefined || entry.latest.stats.role !== rec.stats.role) {
        view.roles.set(key, { source: rec.source, address: rec.address, latest: sample });
      } else if (rec.time > entry.latest.time) {
        view.roles.set(key, { source: rec.source, address: rec.address, latest: sample, previous: entry.latest });
      } else {
        // A sample at the same time (a snapshot repeating the latest): keep the earlier one for rates.
        view.roles.set(key, { ...entry, latest: sample });
      }
      break;
    }
  }
  return view;
}

/** Records the sources' dropped counts (as a source reports them). */
export function applyDropped(view: ClusterView, dropped: Record<string, number>): ClusterView {
  for (const [source, n] of Object.entries(dropped)) view.dropped.set(source, n);
  return view;
}

/** A copy that later `applyRecord`s on either side do not affect. */
export function cloneView(view: ClusterView): ClusterView {
  const actors = new Map<string, ActorView>();
  for (const [k, a] of view.actors) actors.set(k, { ...a, events: [...a.events] });
  const machines = new Map<string, Map<string, MachineDefinition>>();
  for (const [s, defs] of view.machines) machines.set(s, new Map(defs));
  return {
    time: view.time,
    records: view.records,
    lastSeq: new Map(view.lastSeq),
    machines,
    actors,
    roles: new Map(view.roles),
    dropped: new Map(view.dropped),
  };
}

/**
 * Orders records for folding: by time, then sequence number, then source. A source numbers its records in the
 * order they happened, so its records at one time keep their order; a trace numbers all its lines in one
 * sequence, so its records keep the trace's order. Returns a new array.
 */
export function sortRecords(records: readonly ObservedRecord[]): ObservedRecord[] {
  return [...records].sort((a, b) => a.time - b.time || a.seq - b.seq || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
}

/** The view as it was at `time`: every record up to and including it, folded in order. */
export function viewAt(records: readonly ObservedRecord[], time: number): ClusterView {
  const view = emptyView();
  for (const r of sortRecords(records)) {
    if (r.time > time) break;
    applyRecord(view, r);
  }
  return view;
}

/** The machine definition an actor runs, if the view has it. */
export function machineOf(view: ClusterView, a: ActorView): MachineDefinition | undefined {
  return a.machine === undefined ? undefined : view.machines.get(a.source)?.get(a.machine);
}

function newActor(rec: ObservedRecord): ActorView {
  return {
    key: actorKey(rec.source, rec.address, rec.actorId),
    source: rec.source,
    address: rec.address,
    actorId: rec.actorId,
    root: rec.actorId === rec.address,
    since: rec.time,
    lastTime: rec.time,
    stateSince: rec.time,
    events: [],
  };
}

/** The actor a record is about; created when its start was not seen (a record before the snapshot, a trace). */
function actorOf(view: ClusterView, rec: ObservedRecord): ActorView {
  const key = actorKey(rec.source, rec.address, rec.actorId);
  let a = view.actors.get(key);
  if (a === undefined) {
    a = newActor(rec);
    view.actors.set(key, a);
    bound(view);
  }
  return a;
}

function pushEvent(a: ActorView, e: RecentEvent): void {
  a.events.push(e);
  if (a.events.length > RECENT_EVENTS) a.events.splice(0, a.events.length - RECENT_EVENTS);
}

/** Keeps at most MAX_ACTORS: drops ended children, then ended root actors, then the oldest. */
function bound(view: ClusterView): void {
  if (view.actors.size <= MAX_ACTORS) return;
  const ended = (a: ActorView): boolean => a.status !== undefined && a.status !== 'active';
  for (const pass of [(a: ActorView) => !a.root && ended(a), ended, () => true]) {
    for (const [k, a] of view.actors) {
      if (view.actors.size <= MAX_ACTORS) return;
      if (pass(a)) view.actors.delete(k);
    }
  }
}
