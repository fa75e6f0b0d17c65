import { startSystem, type MqSystem, type Consumer, type ConsumerOptions, type MessageExt, type Producer } from '../../index.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { jsonBody, expectOk, request } from '../../actors/protocol/replies.js';
import { RequestCode } from '../../actors/protocol/request-codes.js';
import { PERM_READ_WRITE } from '../../actors/protocol/route.js';
import { memoryTransport } from '../../transports/memory.js';
import type { StoreMode } from '../../store/open-store.js';

/** Fast settings for tests: short intervals so rebalances and re-registrations happen within a test. */
export const FAST = {
  broker: { registerIntervalMs: 500, clientScanIntervalMs: 500, clientExpiryMs: 3000, offsetPersistMs: 200 },
  client: { routeRefreshMs: 300, heartbeatIntervalMs: 300 },
  consumer: { rebalanceIntervalMs: 300, pullTimeoutMs: 500, commitIntervalMs: 200, consumeFrom: 'first' as const },
};

/** A whole cluster in one process on the memory transport and memory storage. */
export async function memorySystem(): Promise<MqSystem> {
  return startSystem({ transport: memoryTransport(), storage: (deps) => memoryStorage(deps) });
}

export async function startCluster(system: MqSystem, opts: { namesrv: string[]; brokers: string[]; storeMode?: StoreMode }) {
  for (const id of opts.namesrv) await system.spawnNameServer({ id, scanIntervalMs: 500, brokerExpiryMs: 3000 });
  const brokers = [];
  for (const name of opts.brokers) {
    const b = await system.spawnBroker({ name, namesrv: opts.namesrv, storeDir: `/data/${name}`, ...FAST.broker, ...(opts.storeMode ? { storeMode: opts.storeMode } : {}) });
    await b.whenServing();
    brokers.push(b);
  }
  return brokers;
}

/** Records what each consumer of a test receives. */
export class Received {
  readonly byConsumer = new Map<string, MessageExt[]>();
  add(consumer: string, msgs: MessageExt[]): void {
    const list = this.byConsumer.get(consumer) ?? [];
    list.push(...msgs);
    this.byConsumer.set(consumer, list);
  }
  all(): MessageExt[] {
    return [...this.byConsumer.values()].flat();
  }
  bodies(consumer?: string): string[] {
    const msgs = consumer === undefined ? this.all() : (this.byConsumer.get(consumer) ?? []);
    return msgs.map((m) => Buffer.from(m.body).toString('utf8'));
  }
}

export async function spawnRecordingConsumer(system: MqSystem, received: Received, name: string, opts: Omit<ConsumerOptions, 'listener'>): Promise<Consumer> {
  return system.spawnConsumer({
    ...FAST.client,
    ...FAST.consumer,
    ...opts,
    clientId: name,
    listener: (msgs) => {
      received.add(name, msgs);
      return 'SUCCESS';
    },
  });
}

/** Waits (bounded) until `done()` holds. */
export async function eventually(done: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Creates a topic on every given broker (UPDATE_AND_CREATE_TOPIC), as an administrator would. */
export async function createTopic(system: MqSystem, brokerAddresses: string[], topic: string, queues = 4): Promise<void> {
  for (const addr of brokerAddresses) {
    const body = jsonBody({ topicName: topic, readQueueNums: queues, writeQueueNums: queues, perm: PERM_READ_WRITE, topicSysFlag: 0 });
    expectOk(await system.env.transport.request(addr, request(RequestCode.UPDATE_AND_CREATE_TOPIC, {}, body)), `create ${topic} on ${addr}`);
  }
}

/** Sends `topic` messages `prefix-0`, `prefix-1`, ... one after another until `stop()` is called; returns the acknowledged bodies. */
export function produceContinuously(producer: Producer, topic: string, prefix: string, pauseMs = 5): { acked: string[]; failed: unknown[]; stop(): Promise<void> } {
  const acked: string[] = [];
  const failed: unknown[] = [];
  let running = true;
  const loop = (async () => {
    for (let n = 0; running; n++) {
      const body = `${prefix}-${n}`;
      try {
        await producer.send({ topic, body: Buffer.from(body) });
        acked.push(body);
      } catch (err) {
        failed.push(err);
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  return {
    acked,
    failed,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** How many bodies arrived more than once, and how many extra copies there were. */
export function duplicates(bodies: readonly string[]): { distinct: number; extra: number } {
  const distinct = new Set(bodies).size;
  return { distinct, extra: bodies.length - distinct };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
