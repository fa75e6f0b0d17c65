#!/usr/bin/env node
/**
 * One broker with N idle queues, in its own process so that its memory is measured alone (the queues benchmark,
 * bench/queues.ts, runs it once per N):
 *   node --expose-gc idle-broker.js '<json: IdleBrokerArgs>'
 * An embedded system on the memory transport (a name server, the broker on disk in `dir`, a producer): N queues
 * (topics of 8 queues, or one queue when N is 1) configured before the broker starts, one message sent to each,
 * the producer stopped. Prints one JSON line (IdleBrokerResult) once the queues are idle, then again once
 * handles idle for `fileIdleCloseMs` were closed.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { memoryTransport, startSystem } from '../../index.js';
import { rootLogger } from '../../actors/runtime/environment.js';
import { PERM_READ_WRITE, type TopicConfig } from '../../actors/protocol/route.js';
import { diskStorage } from '../../store/backends/disk.js';

export interface IdleBrokerArgs {
  queues: number;
  dir: string;
  maxOpenFiles: number;
  fileIdleCloseMs: number;
}

export interface IdleBrokerResult {
  queues: number;
  /** Descriptors of the process before the system started, at their most while sending, once idle, after idle close. */
  fdsBefore: number;
  fdsPeak: number;
  fdsIdle: number;
  fdsAfterIdleClose: number;
  /** After a full GC, once idle (bytes). */
  rssBytes: number;
  heapUsedBytes: number;
  sendMs: number;
}

const openFds = (): number => readdirSync('/proc/self/fd').length;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

function queueLayout(queues: number): { topics: number; perTopic: number } {
  return queues === 1 ? { topics: 1, perTopic: 1 } : { topics: Math.ceil(queues / 8), perTopic: 8 };
}

async function main(a: IdleBrokerArgs): Promise<void> {
  const fdsBefore = openFds();
  const { topics, perTopic } = queueLayout(a.queues);
  const configs: TopicConfig[] = Array.from({ length: topics }, (_, t) => ({ topicName: `T${t}`, readQueueNums: perTopic, writeQueueNums: perTopic, perm: PERM_READ_WRITE, topicSysFlag: 0 }));
  const storeDir = join(a.dir, 'broker');
  mkdirSync(join(storeDir, 'config'), { recursive: true });
  writeFileSync(join(storeDir, 'config', 'topics.json'), JSON.stringify({ dataVersion: { timestamp: 1, counter: topics }, topics: configs }));
  const system = await startSystem({ transport: memoryTransport(), storage: () => diskStorage(), logger: rootLogger('warn') });
  await system.spawnNameServer({ id: 'ns' });
  await system.spawnBroker({ name: 'b', namesrv: ['ns'], storeDir, flush: 'async', maxOpenFiles: a.maxOpenFiles, fileIdleCloseMs: a.fileIdleCloseMs });
  const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns'] });
  let fdsPeak = openFds();
  const sampler = setInterval(() => (fdsPeak = Math.max(fdsPeak, openFds())), 5);
  const t0 = performance.now();
  const body = Buffer.alloc(100, 1);
  // 64 sends in flight, each to its own queue
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < topics * perTopic; i = next++) {
      const t = Math.floor(i / perTopic);
      const q = i % perTopic;
      await producer.send({ topic: `T${t}`, body }, { selector: (qs) => qs.find((m) => m.queueId === q) ?? qs[0]! });
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  const sendMs = performance.now() - t0;
  await producer.stop();
  await sleep(2000); // flushed, indexed, checkpointed: idle
  clearInterval(sampler);
  fdsPeak = Math.max(fdsPeak, openFds());
  gc();
  gc();
  const mem = process.memoryUsage();
  const idle: IdleBrokerResult = { queues: topics * perTopic, fdsBefore, fdsPeak, fdsIdle: openFds(), fdsAfterIdleClose: -1, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, sendMs };
  await sleep(a.fileIdleCloseMs + 1500);
  idle.fdsAfterIdleClose = openFds();
  process.stdout.write(JSON.stringify(idle) + '\n');
  await system.stop();
}

main(JSON.parse(process.argv[2] ?? '{}') as IdleBrokerArgs).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`idle-broker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
