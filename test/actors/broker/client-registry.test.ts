import { ClientRegistry, validateHeartbeat } from '../../../actors/broker/client-registry.js';
import { StatusError } from '../../../core/status.js';

const hb = (groups: string[], producers: string[] = []) => ({
  producerGroups: producers,
  consumers: groups.map((group) => ({ group, messageModel: 'CLUSTERING' as const, subscriptions: { t: '*' } })),
});

describe('client registry', () => {
  it('reports the groups a client joins, lists members sorted', () => {
    const r = new ClientRegistry();
    expect(r.heartbeat('c2', hb(['g']), 0)).toEqual(['g']);
    expect(r.heartbeat('c1', hb(['g', 'h'], ['pg']), 0)).toEqual(['g', 'h']);
    expect(r.heartbeat('c1', hb(['g', 'h']), 10)).toEqual([]);
    expect(r.consumerIds('g')).toEqual(['c1', 'c2']);
    expect(r.producerIds('pg')).toEqual(['c1']);
    expect(r.consumerGroup('g')?.subscriptions).toEqual({ t: '*' });
  });

  it('expires silent clients and reports the changed groups', () => {
    const r = new ClientRegistry();
    r.heartbeat('c1', hb(['g'], ['pg']), 0);
    r.heartbeat('c2', hb(['g', 'h']), 0);
    r.heartbeat('c2', hb(['g', 'h']), 80);
    expect(r.scan(99, 100)).toEqual({ expired: [], changedGroups: [] });
    expect(r.scan(100, 100)).toEqual({ expired: ['c1'], changedGroups: ['g'] });
    expect(r.consumerIds('g')).toEqual(['c2']);
    expect(r.producerGroups()).toEqual([]);
    expect(r.scan(180, 100)).toEqual({ expired: ['c2'], changedGroups: ['g', 'h'] });
    expect(r.consumerGroups()).toEqual([]);
  });

  it('unregisters from named groups or all', () => {
    const r = new ClientRegistry();
    r.heartbeat('c1', hb(['g', 'h']), 0);
    expect(r.unregister('c1', { consumerGroup: 'g' })).toEqual(['g']);
    expect(r.consumerIds('h')).toEqual(['c1']);
    expect(r.unregister('c1')).toEqual(['h']);
    expect(r.unregister('c1')).toEqual([]);
  });

  it('validates heartbeats', () => {
    expect(() => validateHeartbeat({ producerGroups: ['bad group'], consumers: [] })).toThrow(StatusError);
    expect(() => validateHeartbeat({ consumers: [{ group: 'g', messageModel: 'X', subscriptions: {} }] })).toThrow(/messageModel/);
    expect(() => validateHeartbeat(null)).toThrow(StatusError);
    expect(validateHeartbeat({ consumers: [] })).toEqual({ producerGroups: [], consumers: [] });
  });
});
