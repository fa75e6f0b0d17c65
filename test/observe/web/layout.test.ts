import { createMachine } from 'xstate';
import { brokerMachine } from '../../../actors/broker/broker.machine.js';
import type { MachineDefinition } from '../../../actors/runtime/inspection.js';
import { layoutMachine, transitionLabel } from '../../../observe/web/layout.js';
import type { LayoutNode } from '../../../observe/web/layout-types.js';

const inside = (inner: LayoutNode, outer: LayoutNode): boolean =>
  inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width + 0.01 && inner.y + inner.height <= outer.y + outer.height + 0.01;

const overlap = (a: LayoutNode, b: LayoutNode): boolean => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

describe('layoutMachine', () => {
  it('lays out the broker machine: every state a box inside the root, no two siblings overlapping, transitions as edges', async () => {
    const def = brokerMachine.toJSON() as unknown as MachineDefinition;
    const layout = await layoutMachine('broker', def);
    const byPath = new Map(layout.nodes.map((n) => [n.path.join('.'), n]));
    const root = byPath.get('')!;
    expect(root.kind).toBe('root');
    for (const key of ['starting', 'registering', 'serving', 'shuttingDown', 'stopped', 'failed']) {
      const n = byPath.get(key);
      expect(n).toBeDefined();
      expect(inside(n!, root)).toBe(true);
    }
    expect(byPath.get('stopped')!.kind).toBe('final');
    const states = layout.nodes.filter((n) => n.path.length === 1);
    for (const a of states) for (const b of states) if (a !== b) expect(overlap(a, b)).toBe(false);
    const edge = layout.edges.find((e) => e.source === 'broker.starting' && e.target === 'broker.registering');
    expect(edge?.label).toBe('done: open');
    expect(edge!.points.length).toBeGreaterThanOrEqual(2);
    expect(layout.edges.some((e) => e.source === 'broker#initial' && e.target === 'broker.starting')).toBe(true);
    // Targetless transitions stay inside their state.
    expect(byPath.get('serving')!.internal).toEqual(expect.arrayContaining(['frame', 'tick.register']));
    // Cached: the same object for the same key and definition.
    expect(await layoutMachine('broker', def)).toBe(layout);
  });

  it('draws nested and parallel states: regions inside their parallel parent, side by side', async () => {
    const m = createMachine({
      id: 'p',
      initial: 'idle',
      states: {
        idle: { on: { GO: 'work' } },
        work: {
          type: 'parallel',
          states: {
            a: { initial: 'x', states: { x: { after: { 1000: 'y' } }, y: { on: { BACK: 'x' } } } },
            b: { initial: 'u', states: { u: { on: { GO: 'v' } }, v: { invoke: { src: 's', onDone: 'u' } } } },
          },
          on: { STOP: 'done' },
        },
        done: { type: 'final' },
      },
    });
    const layout = await layoutMachine('p', m.toJSON() as unknown as MachineDefinition);
    const byPath = new Map(layout.nodes.map((n) => [n.path.join('.'), n]));
    const work = byPath.get('work')!;
    expect(work.kind).toBe('parallel');
    const a = byPath.get('work.a')!;
    const b = byPath.get('work.b')!;
    expect(a.region && b.region).toBe(true);
    expect(inside(a, work) && inside(b, work)).toBe(true);
    expect(overlap(a, b)).toBe(false);
    expect(inside(byPath.get('work.a.x')!, a)).toBe(true);
    expect(layout.edges.find((e) => e.source === 'p.work.a.x')?.label).toBe('after 1000ms');
    expect(layout.edges.find((e) => e.source === 'p.work.b.v')?.label).toBe('done: s');
    expect(layout.edges.some((e) => e.source === 'p.work' && e.target === 'p.done')).toBe(true);
  });

  it('labels transitions readably', () => {
    expect(transitionLabel({ eventType: 'xstate.done.actor.0.broker.starting', guard: 'stopRequested' }, new Map([['0.broker.starting', 'open']]))).toBe('done: open [stopRequested]');
    expect(transitionLabel({ eventType: 'xstate.after.500.x' })).toBe('after 500ms');
    expect(transitionLabel({ eventType: '' })).toBe('always');
  });

  it('reads hand-written definitions without a transitions list (relative targets, invoke, always)', async () => {
    const def: MachineDefinition = {
      id: 'h',
      initial: 'a',
      states: { a: { id: 'h.a', on: { GO: 'b' }, always: { target: 'c', guard: 'ready' } }, b: { id: 'h.b', invoke: { src: 'load', onDone: 'a' } }, c: { id: 'h.c', type: 'final' } },
    };
    const layout = await layoutMachine('h', def);
    expect(layout.edges.map((e) => `${e.source}>${e.target}:${e.label}`).sort()).toEqual(['h#initial>h.a:undefined', 'h.a>h.b:GO', 'h.a>h.c:always [ready]', 'h.b>h.a:done: load']);
  });
});
