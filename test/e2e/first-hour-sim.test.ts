import { startBroker, type BrokerHandle } from '../../actors/broker/broker.js';
import { startNameServer, type NameServer } from '../../actors/namesrv/namesrv.js';
import { routeByTopic } from '../../actors/namesrv/route-table.js';
import { NAMESRV_STARTED_SUBJECT } from '../../actors/protocol/commands.js';
import { AUTO_CREATE_TOPIC } from '../../actors/protocol/validation.js';
import { startProducer } from '../../actors/producer/producer.js';
import { withFaults } from '../../transports/faults.js';
import { memoryTransport } from '../../transports/memory.js';
import { simSystem } from '../support/sim.js';
import { driveOn, simMqSystem } from './sim-support.js';

/**
 * A broker started before its name server (as a supervisor or a compose file starts them), on simulated
 * time: it becomes routable right after the name server starts, not at its next register interval.
 */
const REGISTER_INTERVAL_MS = 30_000;

async function brokerFirst(opts: { dropAnnouncements: boolean; namesrvAfterMs: number }) {
  const transport = withFaults(memoryTransport(), { rules: opts.dropAnnouncements ? [{ to: NAMESRV_STARTED_SUBJECT, drop: 1 }] : [] });
  const { env, system } = await simSystem(7, transport);
  const broker: BrokerHandle = await startBroker(system, { name: 'b1', namesrv: ['ns-1'], storeDir: '/data/b1', registerIntervalMs: REGISTER_INTERVAL_MS });
  await driveOn(env, broker.whenServing());
  // serving, but no name server has it yet
  expect(broker.registration()).toEqual({ registered: [], missing: ['ns-1'] });
  await env.clock.advance(opts.namesrvAfterMs);
  const startedAt = env.clock.now();
  const ns: NameServer = await startNameServer(system, { id: 'ns-1' });
  const routable = (): boolean => routeByTopic(ns.routeTable(), AUTO_CREATE_TOPIC) !== undefined && broker.registration().missing.length === 0;
  expect(await env.clock.runUntil(routable, REGISTER_INTERVAL_MS)).toBe(true);
  const tookMs = env.clock.now() - startedAt;
  return { env, system, broker, tookMs };
}

describe('a broker started before its name server', () => {
  it('registers as soon as the name server announces its start', async () => {
    const { env, system, broker, tookMs } = await brokerFirst({ dropAnnouncements: false, namesrvAfterMs: 10_000 });
    expect(tookMs).toBeLessThan(50);
    // and a producer's first send to a new topic goes through
    const producer = await driveOn(env, startProducer(system, { group: 'pg', namesrv: ['ns-1'] }));
    const sent = await driveOn(env, producer.send({ topic: 'fresh', body: Buffer.from('x') }));
    expect(sent.status).toBe('SEND_OK');
    await driveOn(env, producer.stop());
    await driveOn(env, broker.stop());
    await system.stop();
  });

  it('without the announcement, its retries find the name server within their bound', async () => {
    for (const namesrvAfterMs of [50, 1_000, 20_000]) {
      const { env, system, broker, tookMs } = await brokerFirst({ dropAnnouncements: true, namesrvAfterMs });
      // retries back off from 100 ms up to 3 s: never the 30 s register interval
      expect(tookMs).toBeLessThanOrEqual(3_000);
      if (namesrvAfterMs <= 50) expect(tookMs).toBeLessThanOrEqual(100);
      await driveOn(env, broker.stop());
      await system.stop();
    }
  });

  it('spawnBroker resolves once every name server has the broker; past registerWaitMs it stops the broker and names the missing', async () => {
    const { env, system } = await simMqSystem(3);
    await driveOn(env, system.spawnNameServer({ id: 'ns-1' }));
    const opts = { name: 'b1', namesrv: ['ns-1', 'ns-2'], storeDir: '/data/b1', registerWaitMs: 2_000 };
    const failed = driveOn(env, system.spawnBroker(opts));
    await expect(failed).rejects.toThrow(/broker broker\.b1\.0 serves, but name server ns-2 did not register the broker within 2000 ms; registered with ns-1/);
    await expect(failed).rejects.toMatchObject({ code: 'EBROKERSTART', missingNameServers: ['ns-2'] });
    expect(system.actors.addresses()).not.toContain('broker.b1.0'); // stopped, its address free
    // with ns-2 starting while it waits, the broker is spawned
    const spawned = driveOn(env, system.spawnBroker(opts));
    await env.clock.advance(500);
    await driveOn(env, system.spawnNameServer({ id: 'ns-2' }));
    const broker = await spawned;
    expect(broker.registration()).toEqual({ registered: ['ns-1', 'ns-2'], missing: [] });
    await driveOn(env, system.stop());
  });
});
