import { failoverRole, haOptionsOf, readyLines, registrationChangeLines, roleChangeLine, roleOf } from '../../../bin/commands/roles-run.js';

describe('mq broker registration lines', () => {
  it('ready only once a name server has the broker, naming those it waits for', () => {
    const role = 'async master';
    expect(readyLines('b1', { registered: [], missing: ['ns-1', 'ns-2'] }, role)).toEqual([]);
    expect(readyLines('b1', { registered: ['ns-1'], missing: ['ns-2'] }, role)).toEqual(['broker b1 ready as async master (registered with ns-1; waiting for ns-2)']);
    expect(readyLines('b1', { registered: ['ns-1', 'ns-2'], missing: [] }, role)).toEqual(['broker b1 ready as async master']);
    expect(readyLines('b1', { registered: [], missing: [] }, role)).toEqual(['broker b1 ready as async master']);
  });

  it('names the role: a master with its mode, a slave with the master it follows', () => {
    expect(roleOf('b', 0, 'sync')).toBe('sync master');
    expect(roleOf('b', 0, 'async', 'broker.b.0')).toBe('async master');
    expect(roleOf('b', 2, 'async')).toBe('slave 2 of b, following broker.b.0');
    expect(roleOf('b', 1, 'async', 'broker.b.7')).toBe('slave 1 of b, following broker.b.7');
    expect(readyLines('b', { registered: ['ns-1'], missing: [] }, roleOf('b', 1, 'async'))).toEqual(['broker b ready as slave 1 of b, following broker.b.0']);
  });

  it('a line per name server that came or went', () => {
    const before = { registered: ['ns-1'], missing: ['ns-2', 'ns-3'] };
    expect(registrationChangeLines('b1', before, { registered: ['ns-2', 'ns-3'], missing: ['ns-1'] })).toEqual([
      'broker b1 registered with ns-2',
      'broker b1 registered with ns-3',
      'broker b1 lost name server ns-1 (registering again)',
    ]);
    expect(registrationChangeLines('b1', before, before)).toEqual([]);
  });
});

describe('mq broker replication flags', () => {
  it('none given: the broker default', () => {
    expect(haOptionsOf({ brokerId: 0 })).toBeUndefined();
    expect(haOptionsOf({ brokerId: 1 })).toBeUndefined();
  });

  it('maps each flag to its HaOptions field', () => {
    expect(haOptionsOf({ brokerId: 0, ha: 'sync' })).toEqual({ mode: 'sync' });
    expect(haOptionsOf({ brokerId: 0, ha: 'sync', minInSyncReplicas: 3, allAckInSyncSet: true, haSyncTimeout: 500, slaveNotCatchup: 2000 })).toEqual({
      mode: 'sync',
      minInSyncReplicas: 3,
      allAckInSyncSet: true,
      syncTimeoutMs: 500,
      maxTimeSlaveNotCatchupMs: 2000,
    });
    expect(haOptionsOf({ brokerId: 0, slaveNotCatchup: 2000 })).toEqual({ mode: 'async', maxTimeSlaveNotCatchupMs: 2000 });
    expect(haOptionsOf({ brokerId: 1, startFrom: 'last-file' })).toEqual({ mode: 'async', startFrom: 'last-file' });
    expect(haOptionsOf({ brokerId: 0, ha: 'async' })).toEqual({ mode: 'async' });
  });

  it('refuses the sync tunables without --ha sync, saying what to do', () => {
    expect(() => haOptionsOf({ brokerId: 0, minInSyncReplicas: 2 })).toThrow('--min-in-sync-replicas apply to a sync master only: add --ha sync, or leave it out');
    expect(() => haOptionsOf({ brokerId: 0, ha: 'async', allAckInSyncSet: true, haSyncTimeout: 10 })).toThrow(
      '--all-ack-in-sync-set and --ha-sync-timeout apply to a sync master only: add --ha sync instead of --ha async, or leave them out',
    );
    expect(() => haOptionsOf({ brokerId: 1, haSyncTimeout: 10 })).toThrow(/broker id 1 is a slave: give it to the master \(--broker-id 0 --ha sync\)/);
  });
});

describe('mq broker --failover', () => {
  it('puts the group under the NATS KV controller, with the lease as liveness too', () => {
    expect(haOptionsOf({ brokerId: 1, failover: true })).toEqual({ mode: 'async', controller: 'kv', kv: {} });
    expect(haOptionsOf({ brokerId: 2, ha: 'sync', minInSyncReplicas: 1, allAckInSyncSet: true, failover: true, lease: 1000, haHeartbeat: 200, haBucketReplicas: 3 })).toEqual({
      mode: 'sync',
      minInSyncReplicas: 1,
      allAckInSyncSet: true,
      controller: 'kv',
      heartbeatMs: 200,
      kv: { leaseMs: 1000, aliveMs: 1000, replicas: 3 },
    });
  });

  it('refuses broker id 0, its tunables without it, and a heartbeat not below the lease', () => {
    expect(() => haOptionsOf({ brokerId: 0, failover: true })).toThrow("--failover: broker ids start at 1 (the group's controller picks the master)");
    expect(() => haOptionsOf({ brokerId: 1, lease: 1000, haBucketReplicas: 3 })).toThrow('--lease and --ha-bucket-replicas apply under automatic failover only: add --failover, or leave them out');
    expect(() => haOptionsOf({ brokerId: 1, failover: true, lease: 1000, haHeartbeat: 1000 })).toThrow('--ha-heartbeat 1000 must be below the lease (1000 ms)');
    expect(() => haOptionsOf({ brokerId: 1, failover: true, haHeartbeat: 3000 })).toThrow('--ha-heartbeat 3000 must be below the lease (3000 ms)');
    // any broker may become master: the sync tunables need --ha sync, whatever the id
    expect(() => haOptionsOf({ brokerId: 1, failover: true, minInSyncReplicas: 1 })).toThrow('--min-in-sync-replicas apply to a sync master only: add --ha sync, or leave it out');
  });

  it('says the controller decides the role, then a line per change', () => {
    expect(readyLines('b', { registered: ['ns-1'], missing: [] }, failoverRole('b', 2))).toEqual(["broker b ready as broker 2 of b under failover (the group's controller decides who is master)"]);
    expect(roleChangeLine('b', 2, undefined, { role: 'none', epoch: 0 })).toBeUndefined();
    expect(roleChangeLine('b', 2, { role: 'none', epoch: 0 }, { role: 'master', epoch: 3 })).toBe('broker b.2 is now master of b (epoch 3)');
    expect(roleChangeLine('b', 2, { role: 'master', epoch: 3 }, { role: 'none', epoch: 3 })).toBe('broker b.2 is no longer master of b (epoch 3): waiting for the controller');
    expect(roleChangeLine('b', 2, { role: 'none', epoch: 3 }, { role: 'slave', epoch: 4, master: 'broker.b.1' })).toBe('broker b.2 now follows broker.b.1 (epoch 4)');
  });
});
