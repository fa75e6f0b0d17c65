import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSystem, type MqSystem } from '../../index.js';
import { AdminClient } from '../../actors/client/admin-client.js';
import { encodeRegisterBody, REGISTER_FRAME_OVERHEAD } from '../../actors/protocol/register-body.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { natsTransport } from '../../transports/nats.js';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';
import { randomTopicNames, topicConfigs } from '../support/topic-names.js';
import { sleep } from './support.js';

/**
 * A broker with more topics than one 1 MiB frame holds registers over NATS (a real nats-server, default
 * max_payload): the name server and an admin client in one process's worth of NATS connection, the broker on
 * another. 12,000 names of 127 characters drawn from every character a topic name may hold are about 1.6 MB of
 * JSON and still over 1 MiB deflated, so the registration is deflated and split into parts.
 */
describe('a broker with 12,000 long topic names over NATS', () => {
  const prefix = 'many';
  const names = randomTopicNames(12_000, 127, 0x1234567);
  let nats: NatsServer;
  let dir: string;
  let nsSystem: MqSystem;
  let brokerSystem: MqSystem | undefined;

  it('needs more than one frame even deflated', () => {
    const parts = encodeRegisterBody({ dataVersion: { timestamp: 1, counter: 1 }, topics: topicConfigs(names) }, 1024 * 1024 - REGISTER_FRAME_OVERHEAD);
    expect(parts.length).toBeGreaterThan(1);
  });

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'mq-many-topics-'));
    mkdirSync(join(dir, 'broker-a', 'config'), { recursive: true });
    writeFileSync(join(dir, 'broker-a', 'config', 'topics.json'), JSON.stringify({ dataVersion: { timestamp: 1, counter: 12_000 }, topics: topicConfigs(names) }));
    nsSystem = await startSystem({ transport: natsTransport({ servers: nats.url, prefix }), storage: (deps) => memoryStorage(deps) });
    await nsSystem.spawnNameServer({ id: 'ns-1', brokerExpiryMs: 2_000, scanIntervalMs: 250 });
  }, 30_000);

  afterAll(async () => {
    await brokerSystem?.stop();
    await nsSystem?.stop();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('registers, serves a route of any of its topics and the whole topic list, and stays registered by re-registering', async () => {
    brokerSystem = await startSystem({ transport: natsTransport({ servers: nats.url, prefix }) });
    // spawnBroker resolves only once the name server has the broker
    await brokerSystem.spawnBroker({ name: 'broker-a', namesrv: ['ns-1'], storeDir: join(dir, 'broker-a'), registerIntervalMs: 400, registerWaitMs: 10_000, flush: 'async' });
    const admin = new AdminClient(nsSystem.env.transport, { namesrv: ['ns-1'], timeoutMs: 5_000 });
    const route = await admin.route(names[7_777]!);
    expect(route.queueDatas).toEqual([expect.objectContaining({ brokerName: 'broker-a', readQueueNums: 4, writeQueueNums: 4 })]);
    expect(route.brokerDatas[0]?.addrs[0]).toBe('broker.broker-a.0');
    const listed = await admin.listTopics();
    const have = new Set(listed);
    expect(names.filter((n) => !have.has(n))).toEqual([]);
    // the name server drops brokers silent for 2 s: past that, only the periodic re-registrations keep the route
    await sleep(3_500);
    const again = await admin.route(names[11_999]!);
    expect(again.brokerDatas[0]?.brokerName).toBe('broker-a');
  }, 30_000);
});
