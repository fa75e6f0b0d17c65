import { haOptionsOf, readyLines, registrationChangeLines, roleOf } from '../../../bin/commands/roles-run.js';

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
