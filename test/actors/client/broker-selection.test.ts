import fc from 'fast-check';
import { isUnreachable, lowestSlave, selectBroker } from '../../../actors/client/broker-selection.js';
import { Status, StatusError } from '../../../core/status.js';
import { TransportError } from '../../../transports/transport.js';

const group = { 0: 'broker.b.0', 1: 'broker.b.1', 2: 'broker.b.2' };
const slavesOnly = { 2: 'broker.b.2', 1: 'broker.b.1' };

describe('broker selection', () => {
  it('sends what is not slaveOk to the master only, whatever the marks and preferences', () => {
    expect(selectBroker(group)).toEqual({ id: 0, address: 'broker.b.0' });
    expect(selectBroker(group, { preferId: 1, masterDownUntil: 100, now: 0 })).toEqual({ id: 0, address: 'broker.b.0' });
    expect(selectBroker(slavesOnly)).toBeUndefined();
  });

  it('sends a read to the master while it is not marked down, to the lowest slave while it is, and to the master again once the mark expired', () => {
    expect(selectBroker(group, { slaveOk: true })).toEqual({ id: 0, address: 'broker.b.0' });
    expect(selectBroker(group, { slaveOk: true, masterDownUntil: 10_000, now: 9_999 })).toEqual({ id: 1, address: 'broker.b.1' });
    expect(selectBroker(group, { slaveOk: true, masterDownUntil: 10_000, now: 10_000 })).toEqual({ id: 0, address: 'broker.b.0' });
  });

  it('reads from a slave when the route has no master, and from the marked master when it has no slave', () => {
    expect(selectBroker(slavesOnly, { slaveOk: true })).toEqual({ id: 1, address: 'broker.b.1' });
    expect(selectBroker({ 0: 'broker.b.0' }, { slaveOk: true, masterDownUntil: 10, now: 0 })).toEqual({ id: 0, address: 'broker.b.0' });
    expect(selectBroker({}, { slaveOk: true })).toBeUndefined();
  });

  it('follows a preferred broker id the route has, and falls back to the group choice when it has not', () => {
    expect(selectBroker(group, { slaveOk: true, preferId: 2 })).toEqual({ id: 2, address: 'broker.b.2' });
    expect(selectBroker(group, { slaveOk: true, preferId: 7 })).toEqual({ id: 0, address: 'broker.b.0' });
    expect(selectBroker(group, { slaveOk: true, preferId: 7, masterDownUntil: 10, now: 0 })).toEqual({ id: 1, address: 'broker.b.1' });
    expect(selectBroker(group, { slaveOk: true, preferId: 0, masterDownUntil: 10, now: 0 })).toEqual({ id: 1, address: 'broker.b.1' });
  });

  it('always answers an address of the group, and the master whenever a read may use it', () => {
    const addrs = fc.dictionary(fc.integer({ min: 0, max: 5 }).map(String), fc.constant('x'), { maxKeys: 6 }).map((d) => Object.fromEntries(Object.keys(d).map((k) => [k, `broker.b.${k}`])));
    fc.assert(
      fc.property(addrs, fc.boolean(), fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }), fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }), fc.integer({ min: 0, max: 20 }), (a, slaveOk, preferId, until, now) => {
        const c = selectBroker(a, { slaveOk, ...(preferId !== undefined ? { preferId } : {}), ...(until !== undefined ? { masterDownUntil: until } : {}), now });
        const ids = Object.keys(a).map(Number);
        if (ids.length === 0 || (!slaveOk && a[0] === undefined)) return c === undefined;
        if (c === undefined || a[c.id] !== c.address) return false;
        if (!slaveOk) return c.id === 0;
        if (preferId !== undefined && preferId > 0 && a[preferId] !== undefined) return c.id === preferId;
        const down = until !== undefined && now < until;
        if (a[0] !== undefined && !down) return c.id === 0;
        const slave = lowestSlave(a);
        return c.id === (slave?.id ?? 0);
      }),
    );
  });

  it('counts unreachable brokers, not refusals, as down', () => {
    for (const s of [Status.TIMEOUT, Status.NO_RESPONDERS, Status.TRANSPORT_CLOSED, Status.SERVICE_NOT_AVAILABLE]) {
      expect(isUnreachable(s)).toBe(true);
      expect(isUnreachable(new StatusError(s, 'x'))).toBe(true);
    }
    expect(isUnreachable(new TransportError('DISCONNECTED', 'link lost'))).toBe(true);
    expect(isUnreachable(new TransportError('NO_RESPONDERS', 'gone'))).toBe(true);
    expect(isUnreachable(Status.OK)).toBe(false);
    expect(isUnreachable(Status.TOPIC_NOT_EXIST)).toBe(false);
    expect(isUnreachable(Status.SYSTEM_BUSY)).toBe(false);
    expect(isUnreachable(new StatusError(Status.NO_PERMISSION, 'no'))).toBe(false);
    expect(isUnreachable(new Error('boom'))).toBe(false);
  });
});
