import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryTransport, startSystem, type MessageExt, type MqSystem, type SendResult } from '../../index.js';
import { diskStorage } from '../../store/backends/disk.js';

/**
 * The README's embedding example ("Embedded, as a library"), statement for statement, with the store under a
 * temporary directory instead of the working directory: a producer's first send to a new topic succeeds right
 * after spawnBroker, and a consumer spawned after it gets the message.
 */
async function readmeExample(root: string): Promise<{ sent: SendResult; msg: MessageExt; log: string[] }> {
  const log: string[] = [];
  const system: MqSystem = await startSystem({ transport: memoryTransport(), storage: () => diskStorage(root) });
  const states = system.inspection$.subscribe((r) => r.kind === 'snapshot' && r.state !== undefined && log.push(`${r.address} ${String(r.event)} -> ${JSON.stringify(r.state)}`));
  await system.spawnNameServer({ id: 'ns-1' });
  await system.spawnBroker({ name: 'broker-a', namesrv: ['ns-1'], storeDir: './data/a', flush: 'sync' });
  const producer = await system.spawnProducer({ group: 'orders-pg', namesrv: ['ns-1'] });
  const sent = await producer.send({ topic: 'orders', tags: 'paid', keys: ['o-42'], body: Buffer.from('order 42 paid') });

  let billed: (msg: MessageExt) => void = () => undefined;
  const firstBilled = new Promise<MessageExt>((resolve) => (billed = resolve));
  await system.spawnConsumer({
    group: 'billing',
    namesrv: ['ns-1'],
    subscribe: { orders: 'paid || refunded' },
    consumeFrom: 'first',
    listener: (msgs) => {
      msgs.forEach(billed);
      return 'SUCCESS';
    },
  });
  const msg = await firstBilled;
  log.push(`${String(sent.msgId === msg.msgId)} ${Buffer.from(msg.body).toString()}`);
  states.unsubscribe();
  await system.stop();
  return { sent, msg, log };
}

describe('the README embedding example', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'actormq-first-hour-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('sends to a new topic right after spawnBroker, and the consumer gets the message', async () => {
    const { sent, msg, log } = await readmeExample(root);
    expect(sent.status).toBe('SEND_OK');
    expect(msg.msgId).toBe(sent.msgId);
    expect(msg.tags).toBe('paid');
    expect(log[log.length - 1]).toBe('true order 42 paid');
    // the roles' lifecycles show in the inspection stream
    expect(log.some((l) => /^broker\.broker-a\.0 .* -> "serving"$/.test(l))).toBe(true);
    expect(log.some((l) => /^client\.consumer-\w+ .* -> "running"$/.test(l))).toBe(true);
  }, 20_000);

  it('run again on the same store: the group goes on from its committed offset and gets the new message', async () => {
    const first = await readmeExample(root);
    const again = await readmeExample(root);
    expect(again.sent.queueOffset).toBeGreaterThan(0);
    expect(again.msg.msgId).toBe(again.sent.msgId);
    expect(again.msg.msgId).not.toBe(first.msg.msgId);
  }, 30_000);
});
