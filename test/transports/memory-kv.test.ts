import pino from 'pino';
import { SimClock } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { memoryNetwork, memoryTransport } from '../../transports/memory.js';
import { withFaults } from '../../transports/faults.js';
import type { TransportDeps } from '../../transports/transport.js';
import { kvConformance } from './kv-conformance.js';

const logger = pino({ level: 'silent' });
const simDeps = (clock = new SimClock()): TransportDeps => ({ clock, random: new SeededRandom(1), logger });

kvConformance('memory', async () => {
  const factory = memoryTransport();
  const a = factory(simDeps());
  const b = factory(simDeps());
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
});

describe('memory key-value buckets', () => {
  test('belong to the network: another network has its own bucket of the same name', async () => {
    const t1 = memoryTransport()(simDeps());
    const t2 = memoryTransport()(simDeps());
    await (await t1.keyValue('b')).create('k', new Uint8Array([1]));
    expect(await (await t2.keyValue('b')).get('k')).toBeUndefined();
    const net = memoryNetwork();
    await (await net.transport(simDeps()).keyValue('b')).create('k', new Uint8Array([2]));
    expect((await (await memoryTransport({ network: net })(simDeps()).keyValue('b')).get('k'))?.value).toEqual(new Uint8Array([2]));
  });

  test('use no timer: a SimClock that is never stepped sees every operation complete', async () => {
    const clock = new SimClock();
    const t = memoryTransport()(simDeps(clock));
    const kv = await t.keyValue('b', { replicas: 3 });
    const r = await kv.create('k', new Uint8Array([1]));
    await kv.update('k', new Uint8Array([2]), r);
    expect((await kv.get('k'))?.value).toEqual(new Uint8Array([2]));
    expect(clock.pending).toBe(0);
    expect(clock.fired).toBe(0);
  });

  test('values above the network maxPayload fail with KvError TOO_LARGE', async () => {
    const kv = await memoryTransport({ maxPayload: 1024 })(simDeps()).keyValue('b');
    await expect(kv.create('k', new Uint8Array(1025))).rejects.toMatchObject({ name: 'KvError', code: 'TOO_LARGE' });
    await expect(kv.create('k', new Uint8Array(1024))).resolves.toBe(1);
  });

  test('a fault-injecting wrapper passes the buckets through', async () => {
    const factory = memoryTransport();
    const faulty = await withFaults(factory, { rules: [{ drop: 1 }] })(simDeps());
    const kv = await faulty.keyValue!('b');
    await kv.create('k', new Uint8Array([7]));
    expect((await (await factory(simDeps()).keyValue('b')).get('k'))?.value).toEqual(new Uint8Array([7]));
  });
});
