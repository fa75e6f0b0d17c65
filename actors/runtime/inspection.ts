import type { InspectionEvent } from 'xstate';

/**
 * One line of the system-wide inspection stream: what an actor did, when (on the Environment's clock), and in
 * which state it is now. Built from XState's inspection events; compact enough to record as a trace.
 */
export interface InspectionRecord {
  /** Environment clock time (virtual in a simulation). */
  time: number;
  /** The hosted actor's transport address (child actors report under their parent's address). */
  address: string;
  /** The XState actor id inside that host (root or child). */
  actorId: string;
  kind: 'actor' | 'event' | 'snapshot';
  /** Event type, for 'event' and 'snapshot' records. */
  event?: string;
  /** State value after the step, for 'snapshot' records of state machines. */
  state?: unknown;
  /** 'active' | 'done' | 'error' | 'stopped', for 'snapshot' records. */
  status?: string;
}

/** Turns an XState inspection event into a record, or undefined for the kinds we do not stream. */
export function toInspectionRecord(ev: InspectionEvent, address: string, time: number): InspectionRecord | undefined {
  const actorId = (ev.actorRef as { id?: string }).id ?? address;
  switch (ev.type) {
    case '@xstate.actor':
      return { time, address, actorId, kind: 'actor' };
    case '@xstate.event':
      return { time, address, actorId, kind: 'event', event: ev.event.type };
    case '@xstate.snapshot': {
      const snap = ev.snapshot as { value?: unknown; status?: string };
      // Only state machines have a value; promise/callback actors report status alone.
      return { time, address, actorId, kind: 'snapshot', event: ev.event.type, state: snap.value, status: snap.status };
    }
    default:
      return undefined;
  }
}
