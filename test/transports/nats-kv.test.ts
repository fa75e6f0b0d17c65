import pino from 'pino';
import { jetstreamManager } from '@nats-io/jetstream';
import { RealClock } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { natsTransport, type NatsTransport } from '../../transports/nats.js';
import { KvError, type TransportDeps } from '../../transports/transport.js';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';
import { kvConformance } from './kv-conformance.js';

const silent = pino({ level: 'silent' });
const deps = (): TransportDeps => ({ clock: new RealClock(), random: new SeededRandom(1), logger: silent });
const open = async (server: NatsServer): Promise<NatsTransport> => (await natsTransport({ servers: server.url, direct: false })(deps())) as NatsTransport;

let server: NatsServer;

beforeAll(async () => {
  server = await startNatsServer({ jetstream: true });
});

afterAll(async () => {
  await server?.stop();
});

kvConformance('nats (JetStream)', async () => {
  const a = await open(server);
  const b = await open(server);
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
});

describe('nats key-value buckets', () => {
  test('the bucket is a JetStream KV bucket of history 1 that a second open finds as it is', async () => {
    const t = await open(server);
    try {
      const kv = await t.keyValue('hist');
      const r1 = await kv.create('k', new Uint8Array([1]));
      await kv.update('k', new Uint8Array([2]), r1);
      const info = await (await jetstreamManager(t.nc)).streams.info('KV_hist');
      expect(info.config.max_msgs_per_subject).toBe(1);
      expect(info.config.num_replicas).toBe(1);
      expect(info.state.messages).toBe(1);
      const again = await t.keyValue('hist');
      expect((await again.get('k'))?.value).toEqual(new Uint8Array([2]));
    } finally {
      await t.close();
    }
  });

  test('against a server without JetStream, opening a bucket fails with KvError JETSTREAM_DISABLED saying how to enable it', async () => {
    const plain = await startNatsServer();
    const t = await open(plain);
    try {
      const err = await t.keyValue('ha').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KvError);
      expect((err as KvError).code).toBe('JETSTREAM_DISABLED');
      expect((err as KvError).message).toContain(`JetStream is not enabled on the NATS server at 127.0.0.1:${plain.port}`);
      expect((err as KvError).message).toContain("start nats-server with -js (or a jetstream block) to use ha.controller 'kv'");
    } finally {
      await t.close();
      await plain.stop();
    }
  });
});
