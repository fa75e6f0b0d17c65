import { parseScenario, ScenarioFileError } from '../../scenarios/scenario-file.js';
import { guardSimulation } from '../../scenarios/sim-guard.js';
import { brokerProcessIds } from '../../scenarios/scenario-schema.js';
import { leakyNow } from './fixtures/core/leaky.js';

const VALID = `
name: tiny
topology:
  brokers: [{ name: broker-a }]
  topics: [{ name: t1 }]
  producers: [{ id: p1, group: pg }]
  consumers: [{ id: c1, group: cg, subscribe: { t1: '*' } }]
workloads: [{ producer: p1, topic: t1, rate: 10, until: 2s }]
timeline: [{ at: 1500ms, do: crash, target: broker-a, restartAfter: 1s }]
`;

function problems(text: string): string[] {
  try {
    parseScenario(text, 'bad.yaml');
  } catch (err) {
    if (err instanceof ScenarioFileError) return err.problems;
    throw err;
  }
  throw new Error('parsed');
}

describe('scenario files: schema', () => {
  it('fills defaults and turns durations into ms', () => {
    const s = parseScenario(VALID, 'tiny.yaml');
    expect(s.topology.namesrv).toEqual(['ns-1']);
    expect(s.topology.brokers[0]).toMatchObject({ flush: 'async', segmentSize: 1 << 20 });
    expect(s.workloads[0]!.until).toBe(2000);
    expect(s.timeline[0]).toMatchObject({ at: 1500, do: 'crash', restartAfter: 1000, tear: true });
    expect(s.checks.drain).toBe(150_000);
  });

  it('names the field and says why, for each problem', () => {
    expect(problems(VALID.replace('{ name: broker-a }', '{ name: broker-a, flush: sometimes }'))).toEqual([expect.stringMatching(/^topology\.brokers\[0\]\.flush: /)]);
    expect(problems(VALID.replace('until: 2s', 'until: soon'))).toEqual([expect.stringMatching(/^workloads\[0\]\.until: .*500ms, 10s, 2m/)]);
    expect(problems(VALID.replace('target: broker-a', 'target: broker-z'))).toEqual(['timeline[0]: no process broker-z in the topology']);
    expect(problems(VALID.replace('topic: t1, rate', 'topic: t9, rate'))).toEqual(['workloads[0].topic: no topic t9 in the topology']);
    expect(problems(VALID.replace('do: crash', 'do: explode'))[0]).toMatch(/^timeline\[0\]\.do: /);
    expect(problems('name: [unclosed')[0]).toMatch(/./);
  });
});

describe('scenario files: broker groups and controllers', () => {
  const GROUP = VALID.replace('[{ name: broker-a }]', '[{ name: broker-a, ha: { mode: sync, syncTimeoutMs: 2s } }, { name: broker-a, id: 1 }]').replace('target: broker-a,', 'target: broker-a-0,');

  it('names the processes of a group <name>-<id> and fills the ha defaults', () => {
    const s = parseScenario(GROUP, 'group.yaml');
    expect(brokerProcessIds(s.topology.brokers)).toEqual(['broker-a-0', 'broker-a-1']);
    expect(s.topology.brokers[0]).toMatchObject({ id: 0, ha: { mode: 'sync', syncTimeoutMs: 2000 } });
    expect(s.topology.controllers).toEqual([]);
    expect(problems(GROUP.replace('target: broker-a-0,', 'target: broker-a,'))).toEqual(['timeline[0]: no process broker-a in the topology']);
  });

  it('wants ids unique per group, one master without a controller, known controllers, ids from 1 under one', () => {
    expect(problems(GROUP.replace('{ name: broker-a, id: 1 }', '{ name: broker-a, id: 0 }'))).toContainEqual('topology.brokers[1].id: broker group broker-a has id 0 twice');
    expect(problems(GROUP.replace('ha: { mode: sync, syncTimeoutMs: 2s } }', 'id: 2 }'))).toContainEqual('topology.brokers[0].id: broker group broker-a has no master (id 0) and no controller');
    const controlled = VALID.replace('[{ name: broker-a }]', '[{ name: broker-a, id: 1, ha: { controller: [k1] } }, { name: broker-a, id: 2, ha: { controller: [k9] } }]').replace('  topics:', '  controllers: [{ id: k1, leaseMs: 2s }]\n  topics:').replace('target: broker-a,', 'target: k1,');
    expect(problems(controlled)).toEqual(['topology.brokers[1].ha.controller: no controller k9 in the topology']);
    expect(problems(controlled.replace('id: 1, ha', 'id: 0, ha').replace('[k9]', '[k1]'))).toEqual([expect.stringMatching(/^topology\.brokers\[0\]\.id: .*ids start at 1/)]);
    expect(parseScenario(controlled.replace('[k9]', '[k1]'), 'ok.yaml').topology.controllers).toEqual([{ id: 'k1', leaseMs: 2000 }]);
  });
});

describe('the simulation guard', () => {
  it('notes a read of the real clock from project code and forgets it after restore', () => {
    const guard = guardSimulation();
    try {
      leakyNow();
      Date.now(); // from a test file: not project code under simulation
    } finally {
      guard.restore();
    }
    expect(guard.leaks).toEqual([expect.stringMatching(/simulation leak: Date\.now\(\) called under the simulated Environment .*fixtures[/\\]core[/\\]leaky/)]);
    const again = guardSimulation();
    again.restore();
    leakyNow();
    expect(again.leaks).toEqual([]);
  });
});
