/*
 * Many queues: what a broker holds per queue, and how the name server copes with thousands of them.
 *  (a) Idle queues: a broker (embedded, memory transport, disk storage in a temp dir) with 1, 1,000 and 10,000
 *      queues (topics of 8 queues), one message each, each size in a process of its own
 *      (bench/queues-procs/idle-broker.ts): open file descriptors (while sending, once idle, after the idle
 *      close), RSS and heap used after a full GC, and memory per idle queue ((at N) - (at 1)) / N. The process
 *      holds the name server and the broker (the producer is stopped before measuring).
 *  (b) Registration and routes: a broker's registration of 10,000 queues (1,250 topics x 8) with a name server,
 *      over the memory transport and over NATS (a nats-server started here; skipped when it is not installed):
 *      the REGISTER_BROKER requests as a broker sends them (encoded, deflated, split to the frame limit) timed
 *      from the encoding to the last answer, a few rounds each with a new data version; a real broker's start
 *      with those topics until the name server has it; route look-ups (GET_ROUTEINFO_BY_TOPIC) of random topics,
 *      p50 and p99.
 * Options: --sizes=1,1000,10000 --max-open-files=1024 --idle-close-ms=3000 --lookups=2000 --no-nats
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { memoryTransport, startSystem, type MqSystem } from '../index.js';
import { AdminClient } from '../actors/client/admin-client.js';
import { namesrvAddress, type RegisterBrokerHeader } from '../actors/protocol/commands.js';
import { RequestCode } from '../actors/protocol/request-codes.js';
import { BODY_ENCODING_HEADER, DEFLATE, encodeRegisterBody, REGISTER_FRAME_OVERHEAD } from '../actors/protocol/register-body.js';
import { expectOk, request } from '../actors/protocol/replies.js';
import { PERM_READ_WRITE, type TopicConfig } from '../actors/protocol/route.js';
import { rootLogger } from '../actors/runtime/environment.js';
import { SeededRandom } from '../core/random.js';
import { diskStorage } from '../store/backends/disk.js';
import { memoryStorage } from '../store/backends/memory.js';
import { natsTransport } from '../transports/nats.js';
import type { HeaderValue } from '../transports/frame.js';
import type { TransportFactory } from '../transports/transport.js';
import { atMost, option, percentile, round, type Bench, type BenchContext, type Goal } from './harness.js';
import { killOnExit } from './kill-on-exit.js';
import { startNatsServer, type NatsServer } from './nats-server.js';
import type { IdleBrokerArgs, IdleBrokerResult } from './queues-procs/idle-broker.js';

const here = dirname(fileURLToPath(import.meta.url));
const KiB = 1024;
const MiB = 1024 * 1024;
const REG_TOPICS = 1_250;
const REG_QUEUES_PER_TOPIC = 8;
const REG_ROUNDS = 5;


/** Runs the idle-broker process for one size; resolves with its result line. */
function idleBroker(args: IdleBrokerArgs): Promise<IdleBrokerResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--expose-gc', join(here, 'queues-procs', 'idle-broker.js'), JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' } });
    killOnExit(proc);
    let result: IdleBrokerResult | undefined;
    let stderr = '';
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    createInterface({ input: proc.stdout }).on('line', (l) => {
      if (l.startsWith('{')) result = JSON.parse(l) as IdleBrokerResult;
    });
    proc.once('exit', (code) => {
      if (code === 0 && result !== undefined) resolve(result);
      else reject(new Error(`idle-broker (${args.queues} queues) exited ${String(code)}: ${stderr.trim()}`));
    });
  });
}

const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** `n` topics of `perTopic` queues, named like `orders-k3j9...`: 32 characters, 24 of them random (deflate little). */
function topicConfigs(n: number, perTopic: number): TopicConfig[] {
  const random = new SeededRandom(0x70b1c5);
  const names = new Set<string>();
  while (names.size < n) {
    let s = `topic-${String(names.size % 10)}-`;
    while (s.length < 32) s += NAME_CHARS[random.int(NAME_CHARS.length)];
    names.add(s);
  }
  return [...names].map((topicName) => ({ topicName, readQueueNums: perTopic, writeQueueNums: perTopic, perm: PERM_READ_WRITE, topicSysFlag: 0 }));
}

interface RegistrationRun {
  transport: string;
  /** Each round: the registration's encoding (JSON, deflate, parts) until the name server's last answer. */
  registerMs: number[];
  parts: number;
  bodyBytes: number;
  /** A broker with these topics, from spawnBroker until the name server has it. */
  brokerStartMs: number;
  routeP50Ms: number;
  routeP99Ms: number;
  lookups: number;
}

async function registration(ctx: BenchContext, name: string, transport: () => TransportFactory, lookups: number): Promise<RegistrationRun> {
  const topics = topicConfigs(REG_TOPICS, REG_QUEUES_PER_TOPIC);
  const dir = mkdtempSync(join(tmpdir(), 'mq-bench-queues-reg-'));
  const systems: MqSystem[] = [];
  try {
    const nsSystem = await startSystem({ transport: transport(), storage: (deps) => memoryStorage(deps), logger: rootLogger('warn') });
    systems.push(nsSystem);
    await nsSystem.spawnNameServer({ id: 'ns-q' });
    // the broker's side: its own connection (over NATS, another client of the server)
    const brokerSystem = await startSystem({ transport: transport(), storage: () => diskStorage(), logger: rootLogger('warn') });
    systems.push(brokerSystem);
    const t = brokerSystem.env.transport;
    const header: RegisterBrokerHeader = { cluster: 'DefaultCluster', brokerName: 'reg', brokerId: 0, address: 'broker.reg.0' };
    const registerMs: number[] = [];
    let parts = 0;
    let bodyBytes = 0;
    for (let r = 0; r < REG_ROUNDS; r++) {
      const t0 = performance.now();
      const encoded = encodeRegisterBody({ dataVersion: { timestamp: 1, counter: r + 1 }, topics }, t.maxPayload - REGISTER_FRAME_OVERHEAD);
      for (let i = 0; i < encoded.length; i++) {
        const part = encoded[i]!;
        const h: Record<string, HeaderValue> = { ...header };
        if (part.deflated) h[BODY_ENCODING_HEADER] = DEFLATE;
        if (encoded.length > 1) Object.assign(h, { part: i, parts: encoded.length, registration: `r${r}` });
        expectOk(await t.request(namesrvAddress('ns-q'), request(RequestCode.REGISTER_BROKER, h, part.body), { from: 'bench', timeoutMs: 10_000 }), 'register');
      }
      registerMs.push(performance.now() - t0);
      parts = encoded.length;
      bodyBytes = encoded.reduce((s, p) => s + p.body.length, 0);
    }
    ctx.progress(`${name}: registration of ${REG_TOPICS * REG_QUEUES_PER_TOPIC} queues in ${registerMs.map((m) => m.toFixed(1)).join(', ')} ms (${parts} part(s), ${bodyBytes} bytes)`);

    const admin = new AdminClient(t, { namesrv: ['ns-q'], timeoutMs: 5_000, from: 'bench-admin' });
    // seeded: every run looks up the same topics
    const random = new SeededRandom(0x5eed);
    for (let i = 0; i < 200; i++) await admin.route(topics[random.int(topics.length)]!.topicName); // warm-up
    const lat: number[] = [];
    for (let i = 0; i < lookups; i++) {
      const topic = topics[random.int(topics.length)]!.topicName;
      const t0 = performance.now();
      const route = await admin.route(topic);
      lat.push(performance.now() - t0);
      if (route.queueDatas[0]?.readQueueNums !== REG_QUEUES_PER_TOPIC) throw new Error(`route of ${topic}: ${JSON.stringify(route.queueDatas)}`);
    }
    const routeP50Ms = percentile(lat, 50);
    const routeP99Ms = percentile(lat, 99);
    ctx.progress(`${name}: route look-ups p50 ${routeP50Ms.toFixed(3)} ms, p99 ${routeP99Ms.toFixed(3)} ms`);

    // a real broker with the same topics: from spawnBroker until the name server has it
    const storeDir = join(dir, 'broker');
    mkdirSync(join(storeDir, 'config'), { recursive: true });
    writeFileSync(join(storeDir, 'config', 'topics.json'), JSON.stringify({ dataVersion: { timestamp: 1, counter: REG_TOPICS }, topics }));
    const t0 = performance.now();
    await brokerSystem.spawnBroker({ name: 'b', namesrv: ['ns-q'], storeDir, flush: 'async' });
    const brokerStartMs = performance.now() - t0;
    ctx.progress(`${name}: a broker with ${REG_TOPICS} topics started and registered in ${brokerStartMs.toFixed(1)} ms`);
    return { transport: name, registerMs: registerMs.map((m) => round(m)), parts, bodyBytes, brokerStartMs: round(brokerStartMs), routeP50Ms: round(routeP50Ms), routeP99Ms: round(routeP99Ms), lookups };
  } finally {
    for (const s of systems.reverse()) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const bench: Bench = async (ctx) => {
  const sizes = (option(ctx.args, 'sizes') ?? '1,1000,10000').split(',').map(Number);
  const maxOpenFiles = Number(option(ctx.args, 'max-open-files') ?? 1024);
  const fileIdleCloseMs = Number(option(ctx.args, 'idle-close-ms') ?? 3000);
  const lookups = Number(option(ctx.args, 'lookups') ?? 2000);
  const withNats = !ctx.args.includes('--no-nats');

  // (a) idle queues, one process per size
  const idle: IdleBrokerResult[] = [];
  for (const queues of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'mq-bench-queues-'));
    try {
      const r = await idleBroker({ queues, dir, maxOpenFiles, fileIdleCloseMs });
      ctx.progress(`${r.queues} queues: fds ${r.fdsIdle} idle (peak ${r.fdsPeak}, ${r.fdsAfterIdleClose} after the idle close), RSS ${(r.rssBytes / MiB).toFixed(1)} MiB, heap ${(r.heapUsedBytes / MiB).toFixed(1)} MiB`);
      idle.push(r);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const base = idle.find((r) => r.queues === 1) ?? idle[0]!;
  const largest = idle[idle.length - 1]!;
  const perQueue = (r: IdleBrokerResult): { rssBytes: number; heapBytes: number } => ({
    rssBytes: r === base ? 0 : (r.rssBytes - base.rssBytes) / r.queues,
    heapBytes: r === base ? 0 : (r.heapUsedBytes - base.heapUsedBytes) / r.queues,
  });

  // (b) registration and routes
  const reg: RegistrationRun[] = [];
  const memory = memoryTransport(); // one network for both sides
  reg.push(await registration(ctx, 'memory', () => memory, lookups));
  let nats: NatsServer | undefined;
  let natsSkipped: string | undefined;
  if (withNats) {
    try {
      nats = await startNatsServer();
    } catch (err) {
      natsSkipped = err instanceof Error ? err.message : String(err);
      ctx.progress(`NATS skipped: ${natsSkipped}`);
    }
  }
  try {
    if (nats !== undefined) {
      const url = nats.url;
      reg.push(await registration(ctx, 'nats', () => natsTransport({ servers: url, prefix: 'bq' }), lookups));
    }
  } finally {
    await nats?.stop();
  }

  const figures = {
    maxOpenFiles,
    fileIdleCloseMs,
    idle: idle.map((r) => ({
      queues: r.queues,
      fdsIdle: r.fdsIdle - r.fdsBefore,
      fdsPeak: r.fdsPeak - r.fdsBefore,
      fdsAfterIdleClose: r.fdsAfterIdleClose - r.fdsBefore,
      fdsOfProcessBefore: r.fdsBefore,
      rssMiB: round(r.rssBytes / MiB),
      heapUsedMiB: round(r.heapUsedBytes / MiB),
      rssPerIdleQueueKiB: round(perQueue(r).rssBytes / KiB),
      heapPerIdleQueueKiB: round(perQueue(r).heapBytes / KiB),
      sendMs: round(r.sendMs),
    })),
    registration: reg,
    ...(natsSkipped !== undefined ? { natsSkipped } : {}),
  };
  const goals: Goal[] = [
    atMost(`open descriptors at ${largest.queues} queues, idle (maxOpenFiles ${maxOpenFiles} + 64)`, largest.fdsIdle - largest.fdsBefore, maxOpenFiles + 64, 'fds'),
    atMost(`memory (RSS) per idle queue at ${largest.queues}`, perQueue(largest).rssBytes / KiB, 16, 'KiB'),
    atMost(`heap per idle queue at ${largest.queues}`, perQueue(largest).heapBytes / KiB, 8, 'KiB'),
  ];
  for (const r of reg) {
    goals.push(atMost(`registration of ${REG_TOPICS * REG_QUEUES_PER_TOPIC} queues, slowest of ${REG_ROUNDS} (${r.transport})`, Math.max(...r.registerMs), 1000, 'ms'));
    goals.push(atMost(`route look-up p99 (${r.transport})`, r.routeP99Ms, 5, 'ms'));
  }
  const table = [
    ...figures.idle.map((r) => ({ queues: r.queues, 'fds idle': r.fdsIdle, 'fds peak': r.fdsPeak, 'fds after idle close': r.fdsAfterIdleClose, 'RSS MiB': r.rssMiB, 'heap MiB': r.heapUsedMiB, 'RSS/queue KiB': r.rssPerIdleQueueKiB, 'heap/queue KiB': r.heapPerIdleQueueKiB })),
  ];
  return { figures, goals, table };
};

export default bench;
