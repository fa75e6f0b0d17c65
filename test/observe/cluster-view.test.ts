import fc from 'fast-check';
import { applyRecord, cloneView, emptyView, MAX_ACTORS, RECENT_EVENTS, sortRecords, viewAt, type ClusterView } from '../../observe/cluster-view.js';
import type { ObservedRecord } from '../../observe/source.js';
import { activePaths, formatState } from '../../observe/state-value.js';
import { Timeline } from '../../observe/timeline.js';
import { rec } from './records.js';

const fold = (records: ObservedRecord[]): ClusterView => records.reduce((v, r) => applyRecord(v, r), emptyView());

describe('state values', () => {
  it('lists the active paths of nested and parallel values, and writes the innermost ones', () => {
    expect(activePaths('serving')).toEqual([['serving']]);
    expect(activePaths({ work: { a: 'x', b: { c: 'd' } } })).toEqual([['work'], ['work', 'a'], ['work', 'a', 'x'], ['work', 'b'], ['work', 'b', 'c'], ['work', 'b', 'c', 'd']]);
    expect(formatState({ work: { a: 'x', b: 'y' } })).toBe('work.a.x, work.b.y');
    expect(formatState(undefined, 'done')).toBe('done');
  });
});

describe('cluster view', () => {
  it('follows an actor: machine, state, status, recent events (the snapshot joined to its event)', () => {
    const v = fold([
      { kind: 'machine', seq: 0, time: 1, source: 's', address: 'broker.a.0', actorId: 'broker.a.0', machine: 'broker', definition: { id: 'broker', states: { serving: { id: 'broker.serving' } } } },
      rec.actor('s', 1, 'broker.a.0', 'broker'),
      rec.event('s', 2, 'broker.a.0', 'xstate.init'),
      rec.snapshot('s', 2, 'broker.a.0', 'xstate.init', 'starting'),
      rec.event('s', 5, 'broker.a.0', 'done'),
      rec.snapshot('s', 5, 'broker.a.0', 'done', 'serving'),
    ]);
    const a = v.actors.get('s|broker.a.0|broker.a.0')!;
    expect(a).toMatchObject({ machine: 'broker', root: true, state: 'serving', status: 'active', lastEvent: 'done', since: 1, lastTime: 5, stateSince: 5 });
    expect(a.events.map((e) => [e.event, e.state])).toEqual([['xstate.init', 'starting'], ['done', 'serving']]);
    expect(v.machines.get('s')!.get('broker')!.id).toBe('broker');
    expect(v.time).toBe(5);
    expect(v.lastSeq.get('s')).toBeGreaterThan(0);
  });

  it('keeps a bounded list of recent events, drops children that ended, keeps stopped hosted actors', () => {
    const records: ObservedRecord[] = [rec.actor('s', 0, 'client.c', 'client')];
    for (let i = 0; i < RECENT_EVENTS + 10; i++) records.push(rec.event('s', i, 'client.c', `tick${i}`));
    records.push(rec.snapshot('s', 50, 'client.c', 'xstate.init', undefined, 'active', 'child-1'));
    records.push(rec.snapshot('s', 51, 'client.c', 'done', undefined, 'done', 'child-1'));
    records.push(rec.snapshot('s', 52, 'client.c', 'done', 'stopped', 'done'));
    const v = fold(records);
    const a = v.actors.get('s|client.c|client.c')!;
    expect(a.events).toHaveLength(RECENT_EVENTS);
    expect(a.events[a.events.length - 1]!.state).toBe('stopped');
    expect(a.status).toBe('done');
    expect(v.actors.has('s|client.c|child-1')).toBe(false);
  });

  it('bounds the number of actors it keeps', () => {
    const v = emptyView();
    for (let i = 0; i < MAX_ACTORS + 50; i++) applyRecord(v, rec.snapshot('s', i, `client.c${i}`, 'x', 'running'));
    expect(v.actors.size).toBe(MAX_ACTORS);
  });

  it('clones: applying to the copy leaves the original as it was', () => {
    const v = fold([rec.actor('s', 0, 'a.1'), rec.snapshot('s', 1, 'a.1', 'go', 'one')]);
    const c = cloneView(v);
    applyRecord(c, rec.snapshot('s', 2, 'a.1', 'go', 'two'));
    expect(v.actors.get('s|a.1|a.1')!.state).toBe('one');
    expect(v.actors.get('s|a.1|a.1')!.events).toHaveLength(1);
    expect(c.actors.get('s|a.1|a.1')!.state).toBe('two');
  });
});

// ------------------------------------------------------------------------------------------ properties

const SOURCES = ['p1', 'p2'];
const ADDRESSES = ['broker.a.0', 'client.c1', 'namesrv.n1'];
const STATES = ['starting', 'running', { work: { a: 'x', b: 'y' } }, 'stopped'];

/** Random streams: per source, sequence numbers increase with time; times may tie across and within sources. */
const streams = fc
  .array(
    fc.record({
      source: fc.constantFrom(...SOURCES),
      dt: fc.nat({ max: 3 }),
      address: fc.constantFrom(...ADDRESSES),
      child: fc.boolean(),
      kind: fc.constantFrom('actor', 'event', 'snapshot', 'stats'),
      state: fc.constantFrom(...STATES),
      status: fc.constantFrom('active', 'active', 'done'),
      n: fc.nat({ max: 1000 }),
    }),
    { maxLength: 120 },
  )
  .map((steps) => {
    let time = 0;
    const seqs = new Map<string, number>();
    return steps.map((s): ObservedRecord => {
      time += s.dt;
      const seq = seqs.get(s.source) ?? 0;
      seqs.set(s.source, seq + 1);
      const actorId = s.child ? `0.${s.address}` : s.address;
      const base = { seq, time, source: s.source, address: s.address, actorId };
      switch (s.kind) {
        case 'actor':
          return { ...base, kind: 'actor', machine: 'm' };
        case 'event':
          return { ...base, kind: 'event', event: `e${s.n}` };
        case 'snapshot':
          return { ...base, kind: 'snapshot', event: `e${s.n}`, state: s.state, status: s.status };
        default:
          return { ...base, actorId: s.address, kind: 'stats', stats: { role: 'producer', group: 'g', clientId: s.address, sent: s.n, failed: 0 } };
      }
    });
  });

describe('time travel properties', () => {
  it('folding a prefix up to a time equals viewAt at that time', () => {
    fc.assert(
      fc.property(streams, fc.nat(), (records, pick) => {
        if (records.length === 0) return;
        const sorted = sortRecords(records);
        const t = sorted[pick % sorted.length]!.time;
        const prefix = sorted.filter((r) => r.time <= t);
        expect(viewAt(records, t)).toEqual(fold(prefix));
      }),
    );
  });

  it('respects sequence order: any arrival order of the same records gives the same view', () => {
    fc.assert(
      fc.property(streams, fc.nat(), fc.infiniteStream(fc.nat()), (records, pick, noise) => {
        if (records.length === 0) return;
        const it = noise[Symbol.iterator]();
        const shuffled = records.map((r) => ({ r, k: it.next().value as number })).sort((a, b) => a.k - b.k).map((x) => x.r);
        const t = records[pick % records.length]!.time;
        expect(viewAt(shuffled, t)).toEqual(viewAt(records, t));
      }),
    );
  });

  it('a timeline (checkpoints and clones) gives the same view as folding the prefix', () => {
    fc.assert(
      fc.property(streams, fc.nat(), (records, pick) => {
        const tl = new Timeline(records, 7);
        const n = records.length === 0 ? 0 : pick % (records.length + 1);
        tl.after(records.length); // every checkpoint built, then a view from one in the middle
        expect(tl.after(n)).toEqual(fold(tl.records.slice(0, n)));
        if (n > 0) expect(tl.at(tl.records[n - 1]!.time)).toEqual(viewAt(records, tl.records[n - 1]!.time));
      }),
    );
  });

  it('steps from state change to state change', () => {
    const tl = new Timeline([rec.snapshot('s', 1, 'a.1', 'e', 'one'), rec.event('s', 2, 'a.1', 'x'), rec.snapshot('s', 3, 'a.1', 'x', 'one'), rec.snapshot('s', 4, 'a.1', 'y', 'two')]);
    expect(tl.stateChanges()).toEqual([1, 4]);
    expect(tl.stepStateChange(1, 1)).toBe(4);
    expect(tl.stepStateChange(4, -1)).toBe(1);
    expect(tl.stepStateChange(4, 1)).toBe(4);
    expect(tl.countAt(2)).toBe(2);
  });
});
