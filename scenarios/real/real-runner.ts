/**
 * Runs a scenario on real processes and real time (`mq scenario run FILE --real`): a private nats-server on a
 * loopback port, each name server and broker an `mq` child process (brokers store under a temp dir), the
 * producers and consumers embedded clients of this process, every process behind a TCP proxy of its own (the
 * network faults). The workloads, the consumer recording, the history and the checker are the simulated
 * run's; all times are real ms. The drain ends as soon as every acknowledged message reached every group of
 * its topic, or after the file's drain time. Whatever happens (a failure, an abort), every child is killed
 * and every temp dir removed before the run returns.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { SeededRandom, CryptoRandom } from '../../core/random.js';
import { RealClock } from '../../core/clock.js';
import { murmur3 } from '../../core/hash.js';
import { Status } from '../../core/status.js';
import { AdminClient } from '../../actors/client/admin-client.js';
import { RequestCode } from '../../actors/protocol/request-codes.js';
import { request } from '../../actors/protocol/replies.js';
import { brokerAddress, namesrvAddress } from '../../actors/protocol/commands.js';
import { natsTransport } from '../../index.js';
import type { Transport } from '../../transports/transport.js';
import { checkHistory } from '../checker.js';
import { HistoryLog } from '../history.js';
import type { RunResult } from '../runner.js';
import { DeliveryRecorder, checkOptionsOf, consumerOptionsOf, producerOptionsOf, singleAttemptProducers, txProducerOptionsOf } from '../recording.js';
import { brokerProcessIds, type BrokerSpec, type FaultStep, type Scenario } from '../scenario-schema.js';
import { scheduleTimeline, workEndOf } from '../timeline.js';
import { Trace } from '../trace.js';
import { WorkloadDriver } from '../workload.js';
import { startNatsServer, type NatsServer } from './nats-server.js';
import { RealCluster } from './real-cluster.js';
import { RealNemesis } from './real-nemesis.js';

export interface RealRunOptions {
  /** The `mq` command line's entry script: name servers and brokers run as its child processes. */
  entry: string;
  /** Seeds the workloads' and the nemesis's random draws (default: the scenario's seed). */
  seed?: number;
  /** Replaces the scenario's timeline. */
  timeline?: FaultStep[];
  /** Receives every trace line (the header, the history's operations, the child processes spawned). */
  trace?: (line: string) => void;
  /** pino level of the runner, its embedded clients and its child processes (default silent). */
  logLevel?: string;
  /** Aborts the run (Ctrl-C): it tears everything down and rejects with RealRunAborted. */
  signal?: AbortSignal;
  /** Longest a process may take to be ready (default 20000 ms). */
  startTimeoutMs?: number;
}

/** A real run's result: the simulated run's, less simulated time and the trace digest, plus what a real run adds. */
export interface RealRunResult extends Omit<RunResult, 'simMs' | 'traceDigest'> {
  /** Faults of the timeline that were recorded but not applied, and settings a real run ignores. */
  skipped: string[];
  /** Every child process the run spawned; all are gone when the run returns. */
  spawned: { process: string; pid: number }[];
}

export class RealRunAborted extends Error {
  readonly code = 'EABORTED';
  constructor() {
    super('the real run was aborted');
    this.name = 'RealRunAborted';
  }
}

/** How often `when` conditions and the drain are looked at (ms). */
const POLL_MS = 50;
const DEFAULT_START_TIMEOUT_MS = 20_000;
/** The run's NATS subject prefix (its nats-server is its own). */
const PREFIX = 'mq';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Resolves with `p`, or rejects with RealRunAborted as soon as `signal` aborts. */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new RealRunAborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new RealRunAborted());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (err: unknown) => (signal.removeEventListener('abort', onAbort), reject(err)),
    );
  });
}

/** Waits until `done` holds (true) or `ms` pass (false), looking every POLL_MS. */
async function until(done: () => boolean, ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (signal?.aborted) throw new RealRunAborted();
    if (done()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
  }
}

/**
 * A broker entry's id and replication as `mq broker` flags. What the command line cannot set is refused
 * (realSupport): controllers, and a slave's config sync or a controlled broker's heartbeat interval.
 */
function haFlags(b: BrokerSpec): string[] {
  const flags = ['--broker-id', String(b.id)];
  const ha = b.ha;
  if (!ha) return flags;
  flags.push('--ha', ha.mode);
  if (ha.minInSyncReplicas !== undefined) flags.push('--min-in-sync-replicas', String(ha.minInSyncReplicas));
  if (ha.allAckInSyncSet === true) flags.push('--all-ack-in-sync-set');
  if (ha.syncTimeoutMs !== undefined) flags.push('--ha-sync-timeout', String(ha.syncTimeoutMs));
  if (ha.maxTimeSlaveNotCatchupMs !== undefined) flags.push('--slave-not-catchup', String(ha.maxTimeSlaveNotCatchupMs));
  return flags;
}

/** What of a scenario real processes cannot run yet (there is no `mq controller` command, no flag for these). */
export function realUnsupported(s: Scenario): string[] {
  const out: string[] = [];
  if (s.topology.controllers.length > 0) out.push(`HA controllers (${s.topology.controllers.map((c) => c.id).join(', ')}): there is no mq controller command yet`);
  const ids = brokerProcessIds(s.topology.brokers);
  s.topology.brokers.forEach((b, i) => {
    const unset = (['controller', 'configSyncMs', 'heartbeatMs'] as const).filter((k) => b.ha?.[k] !== undefined);
    if (unset.length > 0) out.push(`broker ${ids[i]}: ha.${unset.join(', ha.')} cannot be given to mq broker`);
  });
  return out;
}

export async function runRealScenario(s: Scenario, opts: RealRunOptions): Promise<RealRunResult> {
  const unsupported = realUnsupported(s);
  if (unsupported.length > 0) throw new Error(`${s.name} cannot run on real processes: ${unsupported.join('; ')}`);
  const realStart = performance.now();
  const seed = opts.seed ?? s.seed;
  const timeline = opts.timeline ?? s.timeline;
  const signal = opts.signal;
  const startTimeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const logLevel = opts.logLevel ?? 'silent';
  const logger: Logger = pino({ level: logLevel, base: undefined }, pino.destination(2));
  const errors: string[] = [];
  const spawned: { process: string; pid: number }[] = [];
  const onError = (what: string, err: unknown): void => void errors.push(`${what} failed: ${message(err)}`);

  const tempDir = mkdtempSync(join(tmpdir(), `mq-real-${s.name}-`));
  const removeTemp = (): void => rmSync(tempDir, { recursive: true, force: true });
  process.once('exit', removeTemp); // the last resort: a run ended by process.exit

  let nats: NatsServer | undefined;
  let cluster: RealCluster | undefined;
  let admin: Transport | undefined;
  let trace: Trace | undefined;
  let history: HistoryLog | undefined;
  let nemesis: RealNemesis | undefined;
  let recorder: DeliveryRecorder | undefined;
  try {
    nats = await abortable(startNatsServer(), signal);
    const natsPort = nats.port;
    const run = new RealCluster({
      natsPort,
      prefix: PREFIX,
      entry: opts.entry,
      logLevel,
      logger,
      startTimeoutMs,
      onReply: (p, to, req, reply) => {
        if (reply.status === Status.OK) recorder?.recordOffsets(p, to, req, reply);
      },
      onError: (p, what, err) => onError(`${p}: ${what}`, err),
      onSpawn: (p, pid) => {
        spawned.push({ process: p, pid });
        trace?.record('spawn', { p, pid });
      },
    });
    cluster = run;
    const clock = run.clock;
    trace = new Trace(() => clock.now(), opts.trace);
    trace.header({ kind: 'real-scenario', name: s.name, seed, scenario: { ...s, seed, timeline } });
    const tr = trace;
    const log = new HistoryLog(
      () => clock.now(),
      (op) => tr.record('op', { i: op.index, p: op.process, type: op.type, f: op.f, v: op.value }),
    );
    history = log;
    const random = new SeededRandom(murmur3('runner', seed) >>> 0);
    const orderedTopics = new Set(s.topology.topics.filter((t) => t.ordered).map((t) => t.name));
    const rec = new DeliveryRecorder(s, log, random, () => driver.acked);
    recorder = rec;
    const driver = new WorkloadDriver(run, log, random, orderedTopics, (id, topic) => rec.onAck(id, topic), singleAttemptProducers(s));

    // ------------------------------------------------------------------ the processes
    const namesrv = s.topology.namesrv;
    const connection = (url: string): string[] => ['--nats', url, '--prefix', PREFIX];
    for (const id of namesrv) await run.add({ id, kind: 'namesrv', args: (url) => ['namesrv', '--id', id, ...connection(url)], ready: new RegExp(`^namesrv ${id} ready`) });
    const brokerIds = brokerProcessIds(s.topology.brokers);
    for (const [i, b] of s.topology.brokers.entries()) {
      const pid = brokerIds[i]!;
      const storeDir = join(tempDir, pid);
      await run.add({
        id: pid,
        kind: 'broker',
        storeDir,
        ready: new RegExp(`^broker ${b.name} ready`),
        args: (url) => ['broker', '--name', b.name, ...haFlags(b), '--namesrv', namesrv.join(','), '--store', storeDir, '--flush', b.flush, ...(b.flushIntervalMs !== undefined ? ['--flush-interval', String(b.flushIntervalMs)] : []), '--segment-size', String(b.segmentSize), '--no-direct', ...connection(url)],
      });
    }
    for (const p of s.topology.producers) {
      await run.add({
        id: p.id,
        kind: 'producer',
        start: (system, inc) => {
          const base = producerOptionsOf(p, namesrv, inc);
          return p.transactional ? system.spawnTransactionProducer(txProducerOptionsOf(s, p, base, driver)) : system.spawnProducer(base);
        },
      });
    }
    for (const c of s.topology.consumers) {
      await run.add({ id: c.id, kind: 'consumer', start: (system, inc) => system.spawnConsumer(consumerOptionsOf(c, namesrv, inc, rec)) });
    }

    const adminTransport = await abortable(Promise.resolve(natsTransport({ servers: nats.url, prefix: PREFIX, name: 'runner-admin', direct: false })({ clock: new RealClock(), random: new CryptoRandom(), logger })), signal);
    admin = adminTransport;
    const adminClient = new AdminClient(adminTransport, { namesrv });
    const createTopic = async (t: { name: string; queues: number }): Promise<void> => {
      await adminClient.createTopic(t.name, { readQueues: t.queues, writeQueues: t.queues });
    };
    const nem = new RealNemesis({
      cluster: run,
      history: log,
      random,
      createTopic,
      deleteTopic: async (name) => {
        for (const b of s.topology.brokers) if (b.id === 0) await adminTransport.request(brokerAddress(b.name, 0), request(RequestCode.DELETE_TOPIC_IN_BROKER, { topic: name }));
        for (const n of namesrv) await adminTransport.request(namesrvAddress(n), request(RequestCode.DELETE_TOPIC_IN_NAMESRV, { topic: name }));
      },
      onError,
      onDestroyed: (ids) => rec.onDestroyed(ids),
    });
    nemesis = nem;

    // the cluster comes up, topics are made, then the clients start (each at its time)
    await abortable(Promise.all([...namesrv, ...brokerIds].map((id) => run.start(id))), signal);
    if (errors.length === 0) await abortable(Promise.all(s.topology.topics.map(createTopic)), signal).catch((err: unknown) => onError('creating topics', err));
    if (errors.length === 0) {
      clock.zero();
      const clients = [...s.topology.producers, ...s.topology.consumers];
      await abortable(Promise.all(clients.filter((c) => c.start === 0).map((c) => run.start(c.id))), signal);
      for (const c of clients) if (typeof c.start === 'number' && c.start > 0) clock.setTimeout(() => void run.start(c.id), c.start - clock.now());
      // the workloads run over [from, until] of the run's clock (zeroed just above)
      for (const w of s.workloads) driver.schedule(w);

      const steps = scheduleTimeline(clock, 0, timeline, () => ({ acked: driver.acked.size, consumed: rec.consumed }), (st) => nem.apply(st), POLL_MS);
      const workEnd = workEndOf(s, timeline, 0);
      await until(() => clock.now() >= workEnd && steps.pending === 0, workEnd - clock.now() + s.checks.drain, signal);
      steps.stop();
      if (steps.pending > 0) errors.push(`${steps.pending} timeline steps never ran (their condition did not hold)`);

      // the drain: every fault ends, then every acknowledged message must arrive
      nem.healAll();
      log.add('runner', 'info', 'drain', {});
      // a send still in flight may yet be acknowledged: the drain waits for its answer too
      await until(() => rec.missing === 0 && driver.inFlight === 0, s.checks.drain, signal);
      await abortable(nem.settled(), signal);
    }
  } finally {
    await tearDown({ cluster, admin, nats, logger });
    process.removeListener('exit', removeTemp);
    removeTemp();
  }

  const ops = history?.ops ?? [];
  const verdict = checkHistory(ops, checkOptionsOf(s, recorder?.groupsOf ?? new Map(), 0));
  return {
    name: s.name,
    seed,
    ok: verdict.ok && errors.length === 0,
    verdict,
    history: ops,
    errors,
    skipped: [...(nemesis?.skipped ?? [])],
    spawned,
    realMs: Math.round(performance.now() - realStart),
    traceLines: trace?.lines ?? 0,
    timeline,
  };
}

/** Kills every process, closes the proxies, the admin connection and the nats-server; each step whatever the others did. */
async function tearDown(t: { cluster?: RealCluster; admin?: Transport; nats?: NatsServer; logger: Logger }): Promise<void> {
  const steps: [string, (() => Promise<void>) | undefined][] = [
    ['stopping the processes', t.cluster && (() => t.cluster!.shutdown())],
    ['closing the admin connection', t.admin && (() => t.admin!.close())],
    ['stopping nats-server', t.nats && (() => t.nats!.stop())],
  ];
  for (const [what, step] of steps) {
    if (!step) continue;
    try {
      await step();
    } catch (err) {
      t.logger.warn({ err }, `${what} failed`);
    }
  }
}
