/**
 * Lays out a state machine definition (XState's `machine.toJSON()`) with ELK's layered algorithm, across the
 * hierarchy: compound states contain their children, a parallel state's children are its regions, transitions
 * (from `on`, `after`, `always`, invoke `onDone`/`onError`, as the definition's `transitions` list them) are
 * edges between any two states, initial states get a marker. Runs in Node (the server); the browser only draws
 * the result. Layouts are cached per machine key and definition.
 */
import elkModule from 'elkjs/lib/elk.bundled.js';
import type { ELK as ElkApi, ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import type { MachineDefinition } from '../../actors/runtime/inspection.js';
import { normalizeDefinition } from '../../actors/runtime/machine-definition.js';
import type { LayoutEdge, LayoutNode, LayoutNodeKind, MachineLayout } from './layout-types.js';

/** A definition ELK could not lay out (the message says why). */
export class LayoutError extends Error {
  constructor(
    readonly machine: string,
    cause: unknown,
  ) {
    super(`could not lay out machine ${machine}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'LayoutError';
  }
}

const CHAR_W = 7;
const LABEL_H = 14;
const ATOMIC_H = 34;
const INITIAL = 10;
const CACHE_SIZE = 200;

interface Transition {
  eventType?: string;
  target?: string[];
  guard?: unknown;
}

/** What the layout keeps of each state node while building the ELK graph. */
interface Meta {
  path: string[];
  label: string;
  kind: LayoutNodeKind;
  region: boolean;
  internal: string[];
}

/** elkjs is CommonJS: its constructor is the module itself (Node ESM) or its `default` (other loaders). */
const ElkConstructor = ((elkModule as unknown as { default?: unknown }).default ?? elkModule) as new () => ElkApi;
const elk = new ElkConstructor();
const cache = new Map<string, Promise<MachineLayout>>();

/** The layout of a machine, from the cache when this key and definition were laid out before. */
export function layoutMachine(key: string, given: MachineDefinition): Promise<MachineLayout> {
  const def = normalizeDefinition(given);
  const json = JSON.stringify(def);
  const cacheKey = `${key}|${json.length}|${fnv1a(json)}`;
  const known = cache.get(cacheKey);
  if (known !== undefined) return known;
  const pending = computeLayout(key, def);
  cache.set(cacheKey, pending);
  pending.catch(() => cache.delete(cacheKey)); // a failure is reported to the caller, not kept
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return pending;
}

async function computeLayout(key: string, def: MachineDefinition): Promise<MachineLayout> {
  const metas = new Map<string, Meta>();
  const edges: ElkExtendedEdge[] = [];
  const edgeLabels = new Map<string, string>();
  const root = toElkNode(def, [], 'root', false, metas, edges, edgeLabels);
  root.layoutOptions = {
    ...root.layoutOptions,
    'elk.algorithm': 'layered',
    'elk.direction': 'DOWN',
    'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
    'elk.json.shapeCoords': 'ROOT',
    'elk.json.edgeCoords': 'ROOT',
    'elk.edgeRouting': 'ORTHOGONAL',
    'elk.edgeLabels.placement': 'CENTER',
    'elk.layered.spacing.nodeNodeBetweenLayers': '36',
    'elk.spacing.nodeNode': '24',
    'elk.spacing.edgeLabel': '4',
    'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
  };
  // Only edges between states of this machine (a target outside it cannot be drawn).
  root.edges = edges.filter((e) => metas.has(e.sources[0]!) && metas.has(e.targets[0]!));
  let laid: ElkNode;
  try {
    laid = await elk.layout(root);
  } catch (err) {
    throw new LayoutError(key, err);
  }
  const nodes: LayoutNode[] = [];
  const walk = (n: ElkNode): void => {
    const meta = metas.get(n.id);
    if (meta !== undefined) {
      nodes.push({
        id: n.id,
        path: meta.path,
        label: meta.label,
        kind: meta.kind,
        region: meta.region,
        x: n.x ?? 0,
        y: n.y ?? 0,
        width: n.width ?? 0,
        height: n.height ?? 0,
        ...(meta.internal.length > 0 ? { internal: meta.internal } : {}),
      });
    }
    for (const c of n.children ?? []) walk(c);
  };
  walk(laid);
  const outEdges: LayoutEdge[] = [];
  const collect = (n: ElkNode): void => {
    for (const e of n.edges ?? []) {
      const points: { x: number; y: number }[] = [];
      for (const s of e.sections ?? []) {
        points.push(s.startPoint, ...(s.bendPoints ?? []), s.endPoint);
      }
      const l = e.labels?.[0];
      const label = edgeLabels.get(e.id);
      outEdges.push({
        id: e.id,
        source: e.sources[0]!,
        target: e.targets[0]!,
        ...(label !== undefined ? { label } : {}),
        points: points.map((p) => ({ x: p.x, y: p.y })),
        ...(l !== undefined && l.x !== undefined && l.y !== undefined ? { labelBox: { x: l.x, y: l.y, width: l.width ?? 0, height: l.height ?? 0 } } : {}),
      });
    }
    for (const c of n.children ?? []) collect(c);
  };
  collect(laid);
  return { machine: key, width: laid.width ?? 0, height: laid.height ?? 0, nodes, edges: outEdges };
}

function toElkNode(def: MachineDefinition, path: string[], kind: LayoutNodeKind, region: boolean, metas: Map<string, Meta>, edges: ElkExtendedEdge[], edgeLabels: Map<string, string>, parent?: MachineDefinition): ElkNode {
  const id = def.id;
  const label = path.length === 0 ? (def.key ?? def.id) : path[path.length - 1]!;
  const children = Object.entries(def.states ?? {});
  const meta: Meta = { path, label, kind, region, internal: [] };
  metas.set(id, meta);
  const node: ElkNode = { id };
  if (children.length === 0) {
    node.width = Math.max(72, label.length * CHAR_W + 28);
    node.height = ATOMIC_H;
  } else {
    const padTop = LABEL_H + 16;
    node.layoutOptions = { 'elk.padding': `[top=${padTop},left=12,bottom=12,right=12]`, 'elk.nodeSize.minimum': `(${label.length * CHAR_W + 30}, 40)`, 'elk.nodeSize.constraints': 'MINIMUM_SIZE' };
    node.children = children.map(([childKey, child]) => {
      const childKind: LayoutNodeKind = child.type === 'final' ? 'final' : child.type === 'history' ? 'history' : child.type === 'parallel' ? 'parallel' : child.states && Object.keys(child.states).length > 0 ? 'compound' : 'atomic';
      return toElkNode(child, [...path, childKey], childKind, def.type === 'parallel', metas, edges, edgeLabels, def);
    });
    // The initial state's marker (parallel states enter every region: none).
    const initial = initialTarget(def);
    if (def.type !== 'parallel' && initial !== undefined) {
      const markerId = `${id}#initial`;
      metas.set(markerId, { path: [...path, '#initial'], label: '', kind: 'initial', region: false, internal: [] });
      node.children.unshift({ id: markerId, width: INITIAL, height: INITIAL });
      edges.push({ id: `${markerId}->${initial}`, sources: [markerId], targets: [initial] });
    }
  }
  // Transitions: one edge per source and target, its events one per line; no target: an internal one.
  const invokes = invokeSources(def);
  const byTarget = new Map<string, string[]>();
  for (const t of transitionsOf(def)) {
    const text = transitionLabel(t, invokes);
    const targets = (t.target ?? []).map((x) => targetId(x, def, parent)).filter((x): x is string => x !== undefined);
    if (targets.length === 0) {
      if (!meta.internal.includes(text)) meta.internal.push(text);
      continue;
    }
    for (const target of targets) {
      const list = byTarget.get(target) ?? [];
      if (!list.includes(text)) list.push(text);
      byTarget.set(target, list);
    }
  }
  for (const [target, texts] of byTarget) {
    const edgeId = `${id}->${target}`;
    const text = texts.join('\n');
    edgeLabels.set(edgeId, text);
    const width = Math.max(...texts.map((s) => s.length)) * (CHAR_W - 1) + 6;
    edges.push({ id: edgeId, sources: [id], targets: [target], labels: [{ id: `${edgeId}#label`, text, width, height: texts.length * LABEL_H }] });
  }
  return node;
}

/** The definition's transitions: its `transitions` list (XState's toJSON), else read from `on`, `after`, `always`, `invoke`. */
function transitionsOf(def: MachineDefinition): Transition[] {
  if (Array.isArray(def.transitions)) return def.transitions as Transition[];
  const out: Transition[] = [];
  const add = (eventType: string, spec: unknown): void => {
    for (const t of Array.isArray(spec) ? spec : [spec]) {
      if (typeof t === 'string') out.push({ eventType, target: [t] });
      else if (t !== null && typeof t === 'object') {
        const o = t as { target?: unknown; guard?: unknown };
        const target = typeof o.target === 'string' ? [o.target] : Array.isArray(o.target) ? (o.target as string[]) : undefined;
        out.push({ eventType, ...(target ? { target } : {}), ...(o.guard !== undefined ? { guard: o.guard } : {}) });
      }
    }
  };
  for (const [ev, spec] of Object.entries(def.on ?? {})) add(ev, spec);
  for (const [ms, spec] of Object.entries((def.after as Record<string, unknown> | undefined) ?? {})) add(`xstate.after.${ms}`, spec);
  if (def.always !== undefined) add('', def.always);
  const invoke = def.invoke;
  for (const inv of Array.isArray(invoke) ? invoke : invoke ? [invoke] : []) {
    const i = inv as { src?: unknown; onDone?: unknown; onError?: unknown };
    const src = typeof i.src === 'string' ? i.src : 'actor';
    if (i.onDone !== undefined) add(`done: ${src}`, i.onDone);
    if (i.onError !== undefined) add(`error: ${src}`, i.onError);
  }
  return out;
}

/** Invoke ids -> their `src` (XState names done/error events after the invoke id). */
function invokeSources(def: MachineDefinition): Map<string, string> {
  const out = new Map<string, string>();
  const invoke = def.invoke;
  for (const inv of Array.isArray(invoke) ? invoke : invoke ? [invoke] : []) {
    const i = inv as { id?: unknown; src?: unknown };
    if (typeof i.id === 'string') out.set(i.id, typeof i.src === 'string' ? i.src : i.id);
  }
  return out;
}

/** A transition's label: its event, readable (`done: open`, `after 1000ms`, `always`), and its guard. */
export function transitionLabel(t: Transition, invokes: Map<string, string> = new Map()): string {
  const ev = t.eventType ?? '';
  let name = ev;
  const done = /^xstate\.(done|error)\.actor\.(.+)$/.exec(ev);
  const after = /^xstate\.after\.(\d+)/.exec(ev);
  if (done) name = `${done[1]}: ${invokes.get(done[2]!) ?? 'actor'}`;
  else if (after) name = `after ${after[1]}ms`;
  else if (/^xstate\.done\.state\./.test(ev)) name = 'done';
  else if (ev === '') name = 'always';
  const guard = t.guard;
  const guardName = typeof guard === 'string' ? guard : guard !== null && typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string' ? (guard as { type: string }).type : guard !== undefined ? 'guard' : undefined;
  return guardName === undefined ? name : `${name} [${guardName}]`;
}

function initialTarget(def: MachineDefinition): string | undefined {
  const initial = def.initial as { target?: unknown } | string | undefined;
  if (typeof initial === 'string') return def.states?.[initial]?.id;
  const target = initial?.target;
  if (Array.isArray(target) && typeof target[0] === 'string') return targetId(target[0], def);
  return undefined;
}

/** A transition target as a state id: `#broker.serving` -> `broker.serving`; `.child` and a sibling's key resolved. */
function targetId(target: string, def: MachineDefinition, parent?: MachineDefinition): string | undefined {
  if (target.startsWith('#')) return target.slice(1);
  if (target.startsWith('.')) return def.states?.[target.slice(1)]?.id;
  return parent?.states?.[target]?.id ?? def.states?.[target]?.id;
}

function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}
