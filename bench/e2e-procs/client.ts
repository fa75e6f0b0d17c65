#!/usr/bin/env node
/**
 * A producer or a consumer of the end-to-end benchmark in its own process, on NATS:
 *   node client.js producer|consumer '<json: {nats, prefix, namesrv, spec}>'
 * Line protocol on stdin/stdout (one JSON object per stdout line): it prints {"ready":true} once connected
 * (a consumer: once it holds its queues), runs on the line "go" (a producer; `repeat` times, one "go" each)
 * and prints {"result":...}; a
 * consumer reports on the line "stop" or, in drain mode, once it has every expected message. Logs go to stderr.
 */
import { createInterface } from 'node:readline';
import pino from 'pino';
import { realEnvironment } from '../../actors/runtime/environment.js';
import { ActorSystem } from '../../actors/runtime/system.js';
import { startProducer } from '../../actors/producer/producer.js';
import { diskStorage } from '../../store/backends/disk.js';
import { natsTransport } from '../../transports/nats.js';
import { consume, produce, type ConsumeSpec, type ProduceSpec } from './workload.js';
import type { Credentials } from '../../actors/protocol/acl/signing.js';

interface Args {
  nats: string;
  prefix: string;
  namesrv: string[];
  spec: ProduceSpec | ConsumeSpec;
  /** A producer signs every request with these (a broker with an ACL). */
  credentials?: Credentials;
  /** A producer runs its spec this many times, each on a "go" line (default 1). */
  repeat?: number;
}

function emit(o: unknown): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

async function main(): Promise<void> {
  const role = process.argv[2];
  const args = JSON.parse(process.argv[3] ?? '{}') as Args;
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn', base: undefined }, pino.destination(2));
  const env = await realEnvironment({
    transport: natsTransport({ servers: args.nats, prefix: args.prefix, name: `e2e-${role}` }),
    storage: () => diskStorage(),
    logger,
  });
  const system = new ActorSystem(env);
  // as an `mq` process: it publishes its records while the cluster is observed
  system.publishObservations({ source: `e2e-${String(role)}.${process.pid}` });
  const lines = createInterface({ input: process.stdin });
  const nextLine = (want: string): Promise<void> =>
    new Promise((resolve) => {
      const on = (l: string): void => {
        if (l.trim() === want) {
          lines.off('line', on);
          resolve();
        }
      };
      lines.on('line', on);
    });
  // the parent going away ends this process
  lines.once('close', () => process.exit(3));
  // stopped by the bench: exit normally, so that a CPU profile (--prof) is written
  process.once('SIGTERM', () => process.exit(0));
  if (role === 'producer') {
    const spec = args.spec as ProduceSpec;
    const credentials = args.credentials ? { credentials: args.credentials } : {};
    const producer = await startProducer(system, { group: 'e2e-pg', namesrv: args.namesrv, batchMaxBytes: 1024 * 1024, ...credentials });
    await producer.queues(spec.topic); // route known before the clock starts
    emit({ ready: true });
    for (let i = 0; i < (args.repeat ?? 1); i++) {
      await nextLine('go');
      emit({ result: await produce(producer, spec) });
    }
    await producer.stop();
  } else if (role === 'consumer') {
    const spec = args.spec as ConsumeSpec;
    const run = await consume(system, args.namesrv, spec);
    emit({ ready: true, queues: run.consumer.assignment().length });
    if (spec.mode === 'drain') await run.done;
    else await nextLine('stop');
    emit({ result: await run.finish() });
  } else {
    throw new Error(`unknown role "${String(role)}"`);
  }
  await system.stop();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
