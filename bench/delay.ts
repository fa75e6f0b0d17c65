/**
 * Scheduled (deliverAt) messages on real time: COUNT messages due 2..4 s after they are sent, sent in
 * batches; measures how fast they are scheduled (acknowledged sends per second) and how late each arrives at
 * a consumer after its deliverAt (p50, p99, max), against plain sends in the same run.
 *
 * `npm run bench -- delay [--json] [--count 10000]`
 */
import pino from 'pino';
import { startSystem, memoryTransport, memoryStorage, type Message, type MessageExt } from '../index.js';
import { atMost, percentile, round, type Bench, type BenchContext } from './harness.js';

const BATCH = 100;
const WINDOW = 8;

function argNum(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : dflt;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

async function sendAll(batches: Message[][], send: (b: Message[]) => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < batches.length) await send(batches[next++]!);
    }),
  );
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const bench: Bench = async (ctx: BenchContext) => {
  const count = argNum(ctx.args, '--count', 10_000);
  const system = await startSystem({ transport: memoryTransport(), storage: (deps) => memoryStorage(deps), logger: pino({ level: 'error' }) });
  try {
    await system.spawnNameServer({ id: 'ns-1' });
    const broker = await system.spawnBroker({ name: 'broker-a', namesrv: ['ns-1'], storeDir: '/bench/a' });
    await broker.whenServing();
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1'] });
    await producer.send({ topic: 'timed', body: Buffer.from('warm-up') });
    await producer.send({ topic: 'plain', body: Buffer.from('warm-up') });
    const lateness: number[] = [];
    const storeLateness: number[] = [];
    let arrived = 0;
    let done: () => void = () => undefined;
    const all = new Promise<void>((r) => (done = r));
    await system.spawnConsumer({
      group: 'cg',
      namesrv: ['ns-1'],
      subscribe: { timed: '*' },
      consumeFrom: 'last',
      consumeBatchSize: 32,
      rebalanceIntervalMs: 200,
      listener: (msgs: MessageExt[]) => {
        const now = Date.now();
        for (const m of msgs) {
          const at = Number(Buffer.from(m.body).toString('utf8'));
          if (!Number.isFinite(at)) continue;
          lateness.push(now - at);
          storeLateness.push(m.storeTimestamp - at);
          if (++arrived >= count) done();
        }
        return 'SUCCESS';
      },
    });
    await new Promise((r) => setTimeout(r, 1000)); // the consumer holds its queues
    const plainBatches: Message[][] = [];
    for (let i = 0; i < count; i += BATCH) plainBatches.push(Array.from({ length: Math.min(BATCH, count - i) }, () => ({ topic: 'plain', body: Buffer.alloc(64, 97) })));
    ctx.progress(`plain: ${count} messages`);
    const plainSeconds = await sendAll(plainBatches, (b) => producer.sendBatch(b));
    const base = Date.now() + 2000;
    const batches: Message[][] = [];
    for (let i = 0; i < count; i += BATCH) {
      batches.push(
        Array.from({ length: Math.min(BATCH, count - i) }, (_, j) => {
          const at = base + Math.floor(((i + j) * 2000) / count);
          return { topic: 'timed', body: Buffer.from(String(at).padEnd(64, ' ')), deliverAt: at };
        }),
      );
    }
    ctx.progress(`scheduled: ${count} messages due in 2..4 s`);
    const schedSeconds = await sendAll(batches, (b) => producer.sendBatch(b));
    const timeout = setTimeout(done, 30_000);
    await all;
    clearTimeout(timeout);
    const p50 = percentile(lateness, 50);
    const p99 = percentile(lateness, 99);
    const max = lateness.length ? lateness[lateness.length - 1]! : NaN;
    const early = lateness.filter((l) => l < 0).length;
    const schedRate = count / schedSeconds;
    const plainRate = count / plainSeconds;
    return {
      figures: {
        count,
        arrived,
        scheduledPerSec: round(schedRate, 1),
        plainPerSec: round(plainRate, 1),
        scheduledToPlain: round(schedRate / plainRate),
        latenessMs: { p50, p99, max, early },
        // when the broker wrote each message to its real topic, after its deliverAt (the timer's part of the lateness)
        storeLatenessMs: { p50: percentile(storeLateness, 50), p99: percentile(storeLateness, 99) },
        timerFired: broker.context()?.timerTx?.timer.fired,
      },
      goals: [atMost('delivery lateness p99', p99, 100, 'ms')],
      table: [
        { what: 'plain sends', msgsPerSec: round(plainRate, 1) },
        { what: 'scheduled sends', msgsPerSec: round(schedRate, 1) },
        { what: 'lateness p50 (ms)', msgsPerSec: p50 },
        { what: 'lateness p99 (ms)', msgsPerSec: p99 },
        { what: 'lateness max (ms)', msgsPerSec: max },
        { what: 'arrived early', msgsPerSec: early },
      ],
    };
  } finally {
    await system.stop();
  }
};

export default bench;
