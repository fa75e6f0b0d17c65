/* `mq dev`: an embedded cluster on the in-memory transport (one name server, one broker with a store
 * directory), plus a demo producer and consumer that print what they do. With `--web HOST:PORT` it serves the
 * web console, and after the demo keeps the cluster running until SIGINT or SIGTERM, taking commands on stdin
 * (`stop consumer`, `help`) so that a person or a test can cause state changes to watch. */
import { mkdtempSync, rmSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter } from 'rxjs';
import { startSystem, type InspectionRecord } from '../index.js';
import { memoryTransport } from '../transports/memory.js';

export interface DevOptions {
  /** Messages the demo producer sends. */
  count: number;
  /** Store directory; a fresh temporary one (removed at the end) when absent. */
  store?: string;
  /** Print every actor state change, not only the roles' lifecycle. */
  verbose?: boolean;
  /** Serve the web console here, and keep running after the demo until a signal. */
  web?: { host: string; port: number };
}

const DEV_COMMANDS = 'commands: "stop consumer" (stops the demo consumer), "help"';

/** The exit code after a signal, as a shell reports it (128 + the signal's number). */
const exitCodeAfter = (signal: NodeJS.Signals): number => (signal === 'SIGTERM' ? 143 : 130);

const time = (ms: number): string => new Date(ms).toISOString().slice(11, 23);

export async function runDev(opts: DevOptions): Promise<void> {
  const storeDir = opts.store ?? mkdtempSync(join(tmpdir(), 'mq-dev-'));
  const system = await startSystem({ transport: memoryTransport() });
  // Each actor's state changes (roles' lifecycle machines; with --verbose, their child actors too).
  const last = new Map<string, string>();
  system.inspection$
    .pipe(filter((r): r is Extract<InspectionRecord, { kind: 'snapshot' }> => r.kind === 'snapshot' && (opts.verbose === true || r.actorId === r.address)))
    .subscribe((r) => {
      const state = JSON.stringify(r.state ?? r.status);
      if (last.get(r.actorId) === state) return;
      last.set(r.actorId, state);
      console.log(`${time(r.time)} [state]   ${r.actorId.padEnd(28)} ${state}`);
    });

  // SIGINT or SIGTERM: stop sending, then stop everything cleanly (offsets committed, store closed and, when
  // temporary, removed) and exit 128 + the signal's number. A second signal exits at once.
  let interrupted: NodeJS.Signals | undefined;
  let allIn: () => void = () => {};
  const done = new Promise<void>((resolve) => (allIn = resolve));
  let signalled: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (signalled = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted !== undefined) process.exit(exitCodeAfter(signal));
    interrupted = signal;
    console.log(`mq dev: ${signal}, stopping`);
    allIn();
    signalled();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const topic = 'demo-orders';
  const received = new Set<number>();
  let sent = 0;
  let started = Date.now();
  let commands: Interface | undefined;
  try {
    if (opts.web !== undefined) {
      const web = await system.observe(opts.web);
      console.log(`mq dev: web console at ${web.url}`);
    }
    console.log(`mq dev: name server ns-1, broker broker-a (store ${storeDir}), memory transport`);
    await system.spawnNameServer({ id: 'ns-1' });
    const broker = await system.spawnBroker({ name: 'broker-a', namesrv: ['ns-1'], storeDir, flush: 'sync' });
    await broker.whenServing();

    const producer = await system.spawnProducer({ group: 'demo-producer', namesrv: ['ns-1'] });
    const consumer = await system.spawnConsumer({
      group: 'demo-consumer',
      namesrv: ['ns-1'],
      subscribe: { [topic]: '*' },
      consumeFrom: 'first',
      rebalanceIntervalMs: 1000,
      listener: (msgs) => {
        for (const m of msgs) {
          const body = Buffer.from(m.body).toString('utf8');
          console.log(`${time(Date.now())} [consume] ${m.msgId} queue ${m.queueId}@${m.queueOffset} tags=${m.tags ?? ''} "${body}"`);
          received.add(Number(body.split(' ')[1]));
        }
        if (received.size >= opts.count) allIn();
        return 'SUCCESS';
      },
    });

    started = Date.now();
    for (let i = 0; i < opts.count && interrupted === undefined; i++) {
      const tags = i % 2 === 0 ? 'paid' : 'refunded';
      const r = await producer.send({ topic, tags, keys: [`order-${i}`], body: Buffer.from(`order ${i} ${tags}`) });
      sent++;
      console.log(`${time(Date.now())} [send]    ${r.msgId} queue ${r.queue.queueId}@${r.queueOffset} ${r.status}`);
      // The consumer started before the topic existed: its first rebalance found no route and the next one is an
      // interval away. The first send created the topic (the name server has its route once the send returns),
      // so rebalance now and the consumer pulls what was just sent.
      if (i === 0) await consumer.rebalance();
    }
    const timeout = setTimeout(() => allIn(), 30_000);
    await done;
    clearTimeout(timeout);
    console.log(`mq dev: sent ${sent}, consumed ${received.size} distinct in ${Date.now() - started} ms`);
    if (opts.web !== undefined && interrupted === undefined) {
      console.log(`mq dev: the cluster keeps running for the console until Ctrl-C (SIGINT or SIGTERM); ${DEV_COMMANDS}`);
      commands = createInterface({ input: process.stdin, terminal: false });
      commands.on('line', (line) => {
        const command = line.trim().replace(/\s+/g, ' ');
        if (command === '') return;
        if (command === 'help') console.log(`mq dev: ${DEV_COMMANDS}`);
        else if (command === 'stop consumer') {
          consumer.stop().then(
            () => console.log('mq dev: consumer stopped'),
            (err: unknown) => console.error(`mq dev: the consumer did not stop cleanly: ${err instanceof Error ? err.message : String(err)}`),
          );
        } else console.log(`mq dev: unknown command "${command}"; ${DEV_COMMANDS}`);
      });
      await stopped;
    }
  } finally {
    commands?.close();
    await system.stop();
    if (opts.store === undefined) rmSync(storeDir, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (interrupted !== undefined) {
    console.log('mq dev: stopped');
    process.exitCode = exitCodeAfter(interrupted);
  } else if (received.size < opts.count) {
    console.error(`mq dev: only ${received.size} of ${opts.count} messages came back`);
    process.exitCode = 1;
  }
}
