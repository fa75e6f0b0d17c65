import type { InspectionEvent } from 'xstate';
import type { RoleStats } from '../protocol/observe.js';
import { normalizeDefinition } from './machine-definition.js';

/** Fields every record of the observation stream has. */
interface RecordBase {
  /** Per publisher (one actor system), increasing by one per record. */
  seq: number;
  /** Environment clock time (virtual in a simulation). */
  time: number;
  /** The hosted actor's transport address (child actors report under their parent's address). */
  address: string;
  /** The XState actor id inside that host (root or child). */
  actorId: string;
}

/**
 * One line of the system-wide observation stream: what an actor did, when (on the Environment's clock), and in
 * which state it is now; built from XState's inspection events. Besides those, once per machine a stream
 * carries its definition (before the first actor that runs it), and about once a second while observed, each
 * role's figures.
 *
 * - `actor`: an actor started; `machine` names its definition when it is a state machine, `parent` its parent.
 * - `machine`: a state machine's definition (`machine.toJSON()` made compact by `normalizeDefinition`), under the
 *   key actors refer to it by.
 * - `event`: an event reached the actor.
 * - `snapshot`: the actor's state after a step: the event that caused it, the state value (state machines) and
 *   the status ('active' | 'done' | 'error' | 'stopped').
 * - `stats`: a role's figures (`actorId` is the role's root actor).
 */
export type InspectionRecord =
  | (RecordBase & { kind: 'actor'; machine?: string; parent?: string })
  | (RecordBase & { kind: 'machine'; machine: string; definition: MachineDefinition })
  | (RecordBase & { kind: 'event'; event: string })
  | (RecordBase & { kind: 'snapshot'; event: string; state?: unknown; status?: string })
  | (RecordBase & { kind: 'stats'; stats: RoleStats });

/** A state machine's definition as XState's `machine.toJSON()` gives it (states nested under `states`). */
export interface MachineDefinition {
  id: string;
  key?: string;
  type?: 'compound' | 'parallel' | 'final' | 'history' | 'atomic';
  initial?: unknown;
  states?: Record<string, MachineDefinition>;
  on?: Record<string, unknown>;
  [field: string]: unknown;
}

/** A record before the system numbers it. */
export type UnnumberedRecord = InspectionRecord extends infer R ? (R extends InspectionRecord ? Omit<R, 'seq'> : never) : never;

/** Gives each distinct state machine a key; tells the first time it sees one (its definition goes out then). */
export interface MachineKeys {
  keyOf(logic: object): { key: string; first: boolean } | undefined;
}

/** Keys machines by their id, `id#2`, `id#3`, ... when different machines share one; other logic has none. */
export function machineKeys(): MachineKeys {
  const keys = new WeakMap<object, string>();
  const used = new Set<string>();
  return {
    keyOf(logic) {
      const known = keys.get(logic);
      if (known !== undefined) return { key: known, first: false };
      const machine = logic as { id?: unknown; toJSON?: unknown; root?: unknown };
      if (typeof machine.toJSON !== 'function' || machine.root === undefined) return undefined;
      const id = typeof machine.id === 'string' ? machine.id : 'machine';
      let key = id;
      for (let n = 2; used.has(key); n++) key = `${id}#${n}`;
      used.add(key);
      keys.set(logic, key);
      return { key, first: true };
    },
  };
}

/**
 * Turns an XState inspection event into records (none for the kinds we do not stream; a machine's definition
 * before the first actor that runs it).
 */
export function toInspectionRecords(ev: InspectionEvent, address: string, time: number, machines: MachineKeys): UnnumberedRecord[] {
  const ref = ev.actorRef as { id?: string; logic?: object; _parent?: { id?: string } };
  const actorId = ref.id ?? address;
  switch (ev.type) {
    case '@xstate.actor': {
      const known = ref.logic === undefined ? undefined : machines.keyOf(ref.logic);
      const parent = ref._parent?.id;
      const actor: UnnumberedRecord = { time, address, actorId, kind: 'actor', ...(known ? { machine: known.key } : {}), ...(parent !== undefined ? { parent } : {}) };
      if (known === undefined || !known.first) return [actor];
      const definition = normalizeDefinition((ref.logic as { toJSON(): MachineDefinition }).toJSON());
      return [{ time, address, actorId, kind: 'machine', machine: known.key, definition }, actor];
    }
    case '@xstate.event':
      return [{ time, address, actorId, kind: 'event', event: ev.event.type }];
    case '@xstate.snapshot': {
      const snap = ev.snapshot as { value?: unknown; status?: string };
      // Only state machines have a value; promise/callback actors report status alone.
      return [{ time, address, actorId, kind: 'snapshot', event: ev.event.type, state: snap.value, status: snap.status }];
    }
    default:
      return [];
  }
}
