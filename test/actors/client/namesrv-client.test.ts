import { NamesrvClient, RouteCache } from '../../../actors/client/namesrv-client.js';
import { Status, StatusError } from '../../../core/status.js';
import { simSystem } from '../../support/sim.js';
import { drive, FakeBroker, FakeNamesrv } from '../../support/fake-broker.js';
import { rootLogger } from '../../../actors/runtime/environment.js';

async function world() {
  const { env, system } = await simSystem(3);
  const ns1 = new FakeNamesrv(system, 'ns-1');
  const ns2 = new FakeNamesrv(system, 'ns-2');
  const b = new FakeBroker(system, 'a', { T: 2 });
  ns1.publish([b]);
  ns2.publish([b]);
  const io = { request: (to: string, f: Parameters<typeof env.transport.request>[1], t?: number) => env.transport.request(to, f, { timeoutMs: t }) };
  return { env, system, ns1, ns2, io };
}

describe('name server client', () => {
  it('returns the route, or undefined for a topic that does not exist', async () => {
    const { env, system, io } = await world();
    const c = new NamesrvClient(io, { namesrv: ['ns-1', 'ns-2'] });
    const r = await drive(env.clock, c.getRoute('T'));
    expect(r?.brokerDatas[0]?.brokerName).toBe('a');
    expect(await drive(env.clock, c.getRoute('U'))).toBeUndefined();
    await system.stop();
  });

  it('falls over to the next name server and keeps asking the one that answered', async () => {
    const { env, system, ns1, ns2, io } = await world();
    ns1.down = true;
    const c = new NamesrvClient(io, { namesrv: ['ns-1', 'ns-2'], timeoutMs: 100 });
    expect(await drive(env.clock, c.getRoute('T'))).toBeDefined();
    expect(await drive(env.clock, c.getRoute('T'))).toBeDefined();
    expect(ns1.requests).toBe(1);
    expect(ns2.requests).toBe(2);
    ns2.down = true;
    const err = await drive(env.clock, c.getRoute('T')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).status).toBe(Status.NO_ROUTE);
    await system.stop();
  });

  it('the route cache shares concurrent fetches, refreshes, and keeps old routes on failure', async () => {
    const { env, system, ns1, io } = await world();
    const cache = new RouteCache(new NamesrvClient(io, { namesrv: ['ns-1'], timeoutMs: 100 }), rootLogger('silent'));
    const changes: string[] = [];
    cache.onChange((t) => changes.push(t));
    const [r1, r2] = await drive(env.clock, Promise.all([cache.route('T'), cache.route('T')]));
    expect(r1).toBe(r2);
    expect(ns1.requests).toBe(1);
    expect(cache.brokerAddress('a')).toBe('broker.a.0');
    expect(cache.brokerAddresses()).toEqual(['broker.a.0']);
    ns1.down = true;
    await drive(env.clock, cache.refreshAll());
    expect(cache.get('T')).toBe(r1);
    expect(changes).toEqual(['T']);
    await system.stop();
  });

  it('looks broker addresses up from the cached routes, and sees a route that changed once it is fetched again', async () => {
    const { env, system, ns1, io } = await world();
    const cache = new RouteCache(new NamesrvClient(io, { namesrv: ['ns-1'], timeoutMs: 100 }), rootLogger('silent'));
    await drive(env.clock, cache.route('T'));
    expect(cache.brokerAddrs('a')).toEqual({ 0: 'broker.a.0' });
    expect(cache.brokerAddrs('a')).toBe(cache.brokerAddrs('a')); // one lookup per change, not per request
    expect(cache.brokerAddrs('nope')).toBeUndefined();
    ns1.routes.get('T')!.brokerDatas[0]!.addrs = { 0: 'broker.a.7', 1: 'broker.a.8' };
    expect(cache.brokerAddress('a')).toBe('broker.a.0'); // not fetched yet
    await drive(env.clock, cache.refreshAll());
    expect(cache.brokerAddrs('a')).toEqual({ 0: 'broker.a.7', 1: 'broker.a.8' });
    expect(cache.brokerAddress('a')).toBe('broker.a.7');
    await system.stop();
  });

  it('needs at least one name server', () => {
    expect(() => new NamesrvClient({ request: () => Promise.reject(new Error('x')) }, { namesrv: [] })).toThrow(/at least one/);
  });
});
