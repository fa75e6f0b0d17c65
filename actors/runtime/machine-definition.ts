/**
 * Machine definitions made compact: XState's `machine.toJSON()` names transition and initial targets by their
 * state node objects, which serialize as whole subtrees. `normalizeDefinition` keeps what a chart needs (ids,
 * keys, types, initial states, transitions with target ids, event types and guard names, invokes' ids and
 * sources) with targets as `#id` strings. Pure and free of Node and the DOM.
 */
import type { MachineDefinition } from './inspection.js';

/** A target as XState gives it (`#id`, a key, or a state node / its JSON) as a string. */
export function targetRef(t: unknown): string | undefined {
  if (typeof t === 'string') return t;
  if (t !== null && typeof t === 'object' && typeof (t as { id?: unknown }).id === 'string') return `#${(t as { id: string }).id}`;
  return undefined;
}

const targets = (list: unknown): string[] | undefined =>
  Array.isArray(list) ? list.map(targetRef).filter((x): x is string => x !== undefined) : typeof list === 'string' ? [list] : undefined;

function guardName(g: unknown): string | undefined {
  if (g === undefined || g === null) return undefined;
  if (typeof g === 'string') return g;
  if (typeof g === 'object' && typeof (g as { type?: unknown }).type === 'string') return (g as { type: string }).type;
  return 'guard';
}

export function normalizeDefinition(def: MachineDefinition): MachineDefinition {
  const out: MachineDefinition = { id: def.id };
  if (def.key !== undefined) out.key = def.key;
  if (def.type !== undefined) out.type = def.type;
  const initial = def.initial as { target?: unknown } | string | undefined;
  if (typeof initial === 'string') out.initial = initial;
  else if (initial !== undefined && initial !== null) out.initial = { target: targets(initial.target) ?? [] };
  if (Array.isArray(def.transitions)) {
    out.transitions = (def.transitions as { eventType?: unknown; target?: unknown; guard?: unknown }[]).map((t) => {
      const target = targets(t.target);
      const guard = guardName(t.guard);
      return { eventType: typeof t.eventType === 'string' ? t.eventType : '', ...(target && target.length > 0 ? { target } : {}), ...(guard !== undefined ? { guard } : {}) };
    });
  } else {
    for (const field of ['on', 'after', 'always'] as const) if (def[field] !== undefined) out[field] = def[field] as Record<string, unknown>;
  }
  const invoke = def.invoke;
  const invokes = Array.isArray(invoke) ? invoke : invoke ? [invoke] : [];
  if (invokes.length > 0) {
    out.invoke = invokes.map((i) => {
      const o = i as { id?: unknown; src?: unknown; onDone?: unknown; onError?: unknown };
      return {
        ...(typeof o.id === 'string' ? { id: o.id } : {}),
        ...(typeof o.src === 'string' ? { src: o.src } : {}),
        ...(!Array.isArray(def.transitions) && o.onDone !== undefined ? { onDone: o.onDone } : {}),
        ...(!Array.isArray(def.transitions) && o.onError !== undefined ? { onError: o.onError } : {}),
      };
    });
  }
  if (def.states !== undefined) {
    out.states = {};
    for (const [k, child] of Object.entries(def.states)) out.states[k] = normalizeDefinition(child);
  }
  return out;
}
