import { ClientRegistry, validateHeartbeat } from '../../../actors/broker/client-registry.js';
import { Status, StatusError } from '../../../core/status.js';
import type { HeartbeatBody } from '../../../actors/protocol/commands.js';

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

  describe('one client id per live member of a consumer group', () => {
    const conflict = { status: Status.CLIENT_ID_CONFLICT, message: expect.stringMatching(/client id "c1" is already used in consumer group g by another live client/) };
    const refusal = (f: () => unknown): unknown => {
      try {
        f();
      } catch (e) {
        return e;
      }
      return undefined;
    };

    it('refuses a heartbeat for a held client id from another instance, and records nothing of it', () => {
      const r = new ClientRegistry();
      expect(r.heartbeat('c1', hb(['g']), 0, 'A')).toEqual(['g']);
      const bodyB: HeartbeatBody = { producerGroups: ['pg'], consumers: [{ group: 'h', messageModel: 'CLUSTERING' as const, subscriptions: { u: '*' } }, { group: 'g', messageModel: 'CLUSTERING' as const, subscriptions: { other: '*' } }] };
      expect(refusal(() => r.heartbeat('c1', bodyB, 5, 'B'))).toMatchObject(conflict);
      expect(r.consumerGroups()).toEqual(['g']); // not even the group it could have joined
      expect(r.producerGroups()).toEqual([]);
      expect(r.consumerGroup('g')?.subscriptions).toEqual({ t: '*' });
      expect(r.consumerGroup('g')?.clients.get('c1')).toBe(0); // the refused heartbeat does not keep the holder alive
      // the holder goes on; other ids and other groups are free
      expect(r.heartbeat('c1', hb(['g']), 10, 'A')).toEqual([]);
      expect(r.heartbeat('c2', hb(['g']), 10, 'B')).toEqual(['g']);
      expect(r.heartbeat('c1', hb(['h']), 10, 'B')).toEqual(['h']);
      expect(r.consumerIds('g')).toEqual(['c1', 'c2']);
    });

    it('a client without a token is an instance of its own; producer groups are not checked', () => {
      const r = new ClientRegistry();
      r.heartbeat('c1', hb(['g']), 0);
      expect(r.heartbeat('c1', hb(['g']), 1)).toEqual([]);
      expect(refusal(() => r.heartbeat('c1', hb(['g']), 2, 'A'))).toMatchObject(conflict);
      r.heartbeat('p1', hb([], ['pg']), 0, 'A');
      expect(r.heartbeat('p1', hb([], ['pg']), 0, 'B')).toEqual([]);
      expect(r.producerIds('pg')).toEqual(['p1']);
    });

    it('frees the id when its holder unregisters or expires; an unregistration from another instance leaves the holder', () => {
      const r = new ClientRegistry();
      r.heartbeat('c1', hb(['g']), 0, 'A');
      expect(r.unregister('c1', { consumerGroup: 'g' }, 'B')).toEqual([]);
      expect(r.consumerIds('g')).toEqual(['c1']);
      expect(r.unregister('c1', { consumerGroup: 'g' }, 'A')).toEqual(['g']);
      expect(r.heartbeat('c1', hb(['g']), 10, 'B')).toEqual(['g']);
      // expiry frees it too
      expect(r.scan(200, 100)).toEqual({ expired: ['c1'], changedGroups: ['g'] });
      expect(r.heartbeat('c1', hb(['g']), 200, 'C')).toEqual(['g']);
      // an unregistration without a token (an administrator) removes whoever holds the id
      expect(r.unregister('c1')).toEqual(['g']);
      expect(r.heartbeat('c1', hb(['g']), 210, 'D')).toEqual(['g']);
    });
  });

  it('validates heartbeats', () => {
    expect(() => validateHeartbeat({ producerGroups: ['bad group'], consumers: [] })).toThrow(StatusError);
    expect(() => validateHeartbeat({ consumers: [{ group: 'g', messageModel: 'X', subscriptions: {} }] })).toThrow(/messageModel/);
    expect(() => validateHeartbeat(null)).toThrow(StatusError);
    expect(validateHeartbeat({ consumers: [] })).toEqual({ producerGroups: [], consumers: [] });
  });
});
