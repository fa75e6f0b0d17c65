/**
 * Transactional send throughput against plain send throughput in the same run: one name server and one
 * broker on the memory transport and in-memory storage, CONCURRENCY senders each waiting for its send (a
 * transactional send is the half message, a local transaction that commits at once, and END_TRANSACTION, one-way by default or as a
 * request;
 * the broker then writes the message to its real topic with an op record). Each peer is warmed up first; rounds
 * alternate their order; a transactional round lasts until the broker has written every commit.
 *
 * `npm run bench -- tx [--json] [--ms 3000]`
 */
import pino from 'pino';
import { startSystem, memoryTransport, memoryStorage, type MqSystem, type Producer } from '../index.js';
import { startTransactionProducer, type TransactionProducer } from '../actors/producer/transaction-producer.js';
import { atLeast, round, type Bench, type BenchContext } from './harness.js';

const CONCURRENCY = 64;
const BODY = Buffer.alloc(256, 120);

interface Rate {
  count: number;
  seconds: number;
  perSecond: number;
}

function total(rs: Rate[]): Rate {
  const count = rs.reduce((a, r) => a + r.count, 0);
  const seconds = rs.reduce((a, r) => a + r.seconds, 0);
  return { count, seconds: round(seconds), perSecond: round(count / seconds, 1) };
}

/**
 * `one` from CONCURRENCY senders for about `ms`; then, inside the timed window, `drain` (the broker's work a
 * one-way send left behind, so that it is not billed to the next peer's round).
 */
async function measure(ms: number, one: () => Promise<unknown>, drain?: () => Promise<void>): Promise<Rate> {
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(ms)) * 1_000_000n;
  let count = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (process.hrtime.bigint() < deadline) {
        await one();
        count++;
      }
    }),
  );
  if (drain) await drain();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { count, seconds, perSecond: count / seconds };
}

function argMs(args: string[], dflt: number): number {
  const i = args.indexOf('--ms');
  const v = i >= 0 ? Number(args[i + 1]) : dflt;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

const bench: Bench = async (ctx: BenchContext) => {
  const ms = argMs(ctx.args, 3000);
  const system: MqSystem = await startSystem({ transport: memoryTransport(), storage: (deps) => memoryStorage(deps), logger: pino({ level: 'error' }) });
  try {
    await system.spawnNameServer({ id: 'ns-1' });
    const broker = await system.spawnBroker({ name: 'broker-a', namesrv: ['ns-1'], storeDir: '/bench/a' });
    await broker.whenServing();
    const plain: Producer = await system.spawnProducer({ group: 'plain-pg', namesrv: ['ns-1'] });
    const tx: TransactionProducer = await startTransactionProducer(system, { group: 'tx-pg', namesrv: ['ns-1'], endMode: 'request', checkListener: () => 'COMMIT' });
    const txOneway: TransactionProducer = await startTransactionProducer(system, { group: 'tx1-pg', namesrv: ['ns-1'], endMode: 'oneway', checkListener: () => 'COMMIT' });
    const transactions = broker.context()?.timerTx?.transactions;
    // every commit written (the one-way END_TRANSACTIONs in flight have reached the store)
    const drain = async (): Promise<void> => {
      const until = Date.now() + 10_000;
      while ((transactions?.snapshot().pending ?? 0) > 0 && Date.now() < until) await new Promise<void>((r) => setImmediate(r));
    };
    const peers: { key: 'p' | 't' | 't1'; one: () => Promise<unknown>; drain?: () => Promise<void> }[] = [
      { key: 'p', one: () => plain.send({ topic: 'bench-plain', body: BODY }) },
      { key: 't', one: () => tx.sendInTransaction({ topic: 'bench-tx', body: BODY }, () => 'COMMIT'), drain },
      { key: 't1', one: () => txOneway.sendInTransaction({ topic: 'bench-tx1', body: BODY }, () => 'COMMIT'), drain },
    ];
    // warm up routes, topics, code paths and the JIT, at full concurrency
    ctx.progress('warming up');
    for (let r = 0; r < 2; r++) for (const peer of peers) await measure(Math.min(400, ms / 8), peer.one, peer.drain);
    // interleaved rounds, every other one in reverse order, so that a change in machine load (or the
    // garbage one peer leaves behind) hits every peer alike
    const ROUNDS = 10;
    const sum = { p: [] as Rate[], t: [] as Rate[], t1: [] as Rate[] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? peers : [...peers].reverse();
      ctx.progress(`round ${r + 1}/${ROUNDS}: ${order.map((x) => x.key).join(', ')}, ${Math.round(ms / ROUNDS)} ms each`);
      for (const peer of order) sum[peer.key].push(await measure(ms / ROUNDS, peer.one, peer.drain));
    }
    const p = total(sum.p);
    const t = total(sum.t);
    const t1 = total(sum.t1);
    const stats = transactions?.snapshot();
    await tx.stop();
    await txOneway.stop();
    const ratio = t.perSecond / p.perSecond;
    const ratio1 = t1.perSecond / p.perSecond;
    return {
      figures: { concurrency: CONCURRENCY, bodyBytes: BODY.length, plain: p, transactional: t, transactionalOneway: t1, ratio: round(ratio), ratioOneway: round(ratio1), broker: stats },
      goals: [atLeast('transactional (default: one-way END_TRANSACTION) / plain send throughput', ratio1, 0.5, 'ratio')],
      table: [
        { peer: 'plain send', msgsPerSec: p.perSecond, ratio: 1 },
        { peer: 'transactional (request)', msgsPerSec: t.perSecond, ratio: round(ratio) },
        { peer: 'transactional (one-way end)', msgsPerSec: t1.perSecond, ratio: round(ratio1) },
      ],
    };
  } finally {
    await system.stop();
  }
};

export default bench;
