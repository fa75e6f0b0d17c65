import { mayBeViewLine, readTrace, traceLineToRecord } from '../../observe/trace-records.js';

describe('trace records', () => {
  it('turns state, machine, actor and stats lines into records (source = process, time = t), skips the rest', () => {
    const text = [
      JSON.stringify({ kind: 'scenario', name: 'tiny', seed: 7, scenario: {} }),
      JSON.stringify({ seq: 0, t: 0, k: 'machine', p: 'b', m: 'broker', def: { id: 'broker' } }),
      JSON.stringify({ seq: 1, t: 0, k: 'actor', p: 'b', a: 'broker.b.0', id: 'broker.b.0', m: 'broker' }),
      JSON.stringify({ seq: 2, t: 5, k: 'frame', p: 'b', from: 'x', to: 'y' }),
      JSON.stringify({ seq: 3, t: 6, k: 'state', p: 'b', a: 'broker.b.0', id: 'broker.b.0', e: 'go', s: 'serving', st: 'active' }),
      JSON.stringify({ seq: 4, t: 7, k: 'stats', p: 'p1', a: 'client.p1', stats: { role: 'producer', group: 'g', clientId: 'p1', sent: 1, failed: 0 } }),
      '{"k":"state", not json',
      '',
    ].join('\n');
    const { records, info } = readTrace(text);
    expect(info).toEqual({ name: 'tiny', seed: 7, lines: 7, records: 4, malformed: 1 });
    expect(records).toEqual([
      { kind: 'machine', seq: 0, time: 0, source: 'b', address: '', actorId: '', machine: 'broker', definition: { id: 'broker' } },
      { kind: 'actor', seq: 1, time: 0, source: 'b', address: 'broker.b.0', actorId: 'broker.b.0', machine: 'broker' },
      { kind: 'snapshot', seq: 3, time: 6, source: 'b', address: 'broker.b.0', actorId: 'broker.b.0', event: 'go', state: 'serving', status: 'active' },
      { kind: 'stats', seq: 4, time: 7, source: 'p1', address: 'client.p1', actorId: 'client.p1', stats: { role: 'producer', group: 'g', clientId: 'p1', sent: 1, failed: 0 } },
    ]);
  });

  it('refuses lines missing what their kind needs', () => {
    expect(traceLineToRecord({ seq: 1, t: 1, k: 'state', p: 'b' })).toBeUndefined();
    expect(traceLineToRecord({ t: 1, k: 'state', p: 'b', a: 'x', id: 'x' })).toBeUndefined();
    expect(mayBeViewLine('{"seq":1,"t":0,"k":"frame"}')).toBe(false);
    expect(mayBeViewLine('{"seq":1,"t":0,"k":"state"}')).toBe(true);
  });
});
