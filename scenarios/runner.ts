/**
 * Runs a scenario on simulated time: builds its cluster (one simulated process per name server, broker,
 * producer and consumer), puts its workloads on it, applies its timeline, then heals every fault and drains:
 * runs until every acknowledged message reached every consumer group of its topic, or the drain time passes
 * (and as long again, to tell late from lost). The history goes to the checker; the trace is every frame,
 * reply, fault, timer firing, state change and operation of the run. A run is a function of the scenario, its
 * seed and the code: `checkDeterminism` runs it twice and compares the traces line by line.
 */
import { SeededRandom } from '../core/random.js';
import { murmur3 } from '../core/hash.js';
import { Status } from '../core/status.js';
import { FrameKind } from '../transports/frame.js';
import type { ActorSystem } from '../actors/runtime/system.js';
import { AdminClient } from '../actors/client/admin-client.js';
import { RequestCode } from '../actors/protocol/request-codes.js';
import { request } from '../actors/protocol/replies.js';
import { brokerAddress, namesrvAddress } from '../actors/protocol/commands.js';
import { startNameServer } from '../actors/namesrv/namesrv.js';
import { startBroker } from '../actors/broker/broker.js';
import { startController } from '../actors/controller/controller.js';
import { startProducer } from '../actors/producer/producer.js';
import { startTransactionProducer } from '../actors/producer/transaction-producer.js';
import { startConsumer } from '../actors/consumer/consumer.js';
import { checkHistory, type Verdict } from './checker.js';
import { HistoryLog, type HistoryOp } from './history.js';
import { DeliveryRecorder, checkOptionsOf, consumerOptionsOf, controllerSettingsOf, haOptionsOf, producerOptionsOf, singleAttemptProducers, txProducerOptionsOf } from './recording.js';
import { Nemesis } from './nemesis.js';
import { brokerProcessIds, type FaultStep, type Scenario } from './scenario-schema.js';
import { SimCluster, type Role } from './sim-cluster.js';
import type { TapEvent } from './sim-process.js';
import { Trace } from './trace.js';
import { scheduleTimeline, workEndOf } from './timeline.js';
import { WorkloadDriver } from './workload.js';
import { guardSimulation } from './sim-guard.js';

export interface RunOptions {
  /** Default: the scenario's seed. */
  seed?: number;
  /** Replaces the scenario's timeline (fuzzing and shrinking run drawn schedules). */
  timeline?: FaultStep[];
  /** Receives every trace line; false records no trace at all (the digest is then of the header alone). */
  trace?: ((line: string) => void) | false;
  /** pino level of the processes' logs (default silent). */
  logLevel?: string;
  /**
   * A bug planted on purpose, to show that the checker catches it: `skip-offset-commits` makes every broker
   * answer a consumer's offset commit without storing it; `sync-flush-does-not-wait` makes sync-flush brokers
   * answer before the fsync (they run async, flushing once a second), while the checker still holds them to sync.
   */
  plantedBug?: 'skip-offset-commits' | 'sync-flush-does-not-wait';
  /** Fail the run when code under simulation touches the real clock, timers, randomness or files (default true). */
  guard?: boolean;
  /** Every broker's store mode, over what the file says (the files' runs on per-queue stores). */
  storeMode?: 'mixed' | 'per-queue';
}

export interface RunResult {
  name: string;
  seed: number;
  ok: boolean;
  verdict: Verdict;
  history: HistoryOp[];
  /** Problems of the run itself (a process that would not start, real time used under simulation). */
  errors: string[];
  simMs: number;
  realMs: number;
  traceDigest: string;
  traceLines: number;
  /** The timeline that ran. */
  timeline: FaultStep[];
}

/** How long the run waits for the cluster to come up before the workload starts (simulated ms). */
const STARTUP_MS = 30_000;
/** How often `when` conditions are looked at (simulated ms). */
const CONDITION_EVERY_MS = 50;

export async function runScenario(s: Scenario, opts: RunOptions = {}): Promise<RunResult> {
  const guard = opts.guard === false ? undefined : guardSimulation();
  let result: RunResult;
  try {
    result = await runGuarded(s, opts);
  } finally {
    guard?.restore(); // whatever happened: the real clock and friends are the originals again
  }
  const leaks = guard?.leaks ?? [];
  return leaks.length === 0 ? result : { ...result, ok: false, errors: [...result.errors, ...leaks] };
}

async function runGuarded(s: Scenario, opts: RunOptions): Promise<RunResult> {
  const realStart = performance.now();
  const seed = opts.seed ?? s.seed;
  const timeline = opts.timeline ?? s.timeline;
  const errors: string[] = [];
  let trace: Trace | undefined;
  let started = false; // the cluster came up and the clients started
  let draining = false;
  const cluster = new SimCluster({
    seed,
    logLevel: opts.logLevel,
    tap: (p, ev) => onTap(p, ev),
    onSystem: (p, actors) => followStates(p, actors),
    onTimer: (p) => trace?.record('timer', { p }),
    intercept:
      opts.plantedBug === 'skip-offset-commits'
        ? (_p, _to, f) => (f.code === RequestCode.UPDATE_CONSUMER_OFFSET ? { kind: FrameKind.Reply, code: f.code, requestId: f.requestId, status: Status.OK, header: {}, body: new Uint8Array(0) } : undefined)
        : undefined,
    onError: (p, what, err) => {
      const reason = err instanceof Error ? err.message : String(err);
      // after the cluster came up, a process that cannot start is something the faults did: it tries again at the drain
      if (what === 'start' && started && !draining) nemesis.startFailed(p, reason);
      else errors.push(`${p}: ${what} failed: ${reason}`);
    },
  });
  const clock = cluster.clock;
  trace = new Trace(() => clock.now(), opts.trace === false ? undefined : opts.trace, opts.trace !== false);
  trace.header({ kind: 'scenario', name: s.name, seed, scenario: { ...s, seed, timeline } });
  const history = new HistoryLog(
    () => clock.now(),
    (op) => trace!.record('op', { i: op.index, p: op.process, type: op.type, f: op.f, v: op.value }),
  );
  const random = new SeededRandom(murmur3('runner', seed) >>> 0);
  cluster.network.events$.subscribe((ev) => trace!.record('fault', { ...ev }));

  // ------------------------------------------------------------------ what the drain waits for
  const orderedTopics = new Set(s.topology.topics.filter((t) => t.ordered).map((t) => t.name));
  const recorder = new DeliveryRecorder(s, history, random, () => driver.acked);
  const groupsOf = recorder.groupsOf;
  const driver = new WorkloadDriver(cluster, history, random, orderedTopics, (id, topic) => recorder.onAck(id, topic), singleAttemptProducers(s));

  function onTap(p: string, ev: TapEvent): void {
    if (ev.k === 'send') trace!.record('frame', { p, from: ev.from, to: ev.to, code: ev.code, req: ev.request, n: ev.bytes });
    else if (ev.k === 'publish') trace!.record('publish', { p, from: ev.from, subject: ev.subject, code: ev.code });
    else {
      trace!.record('reply', { p, to: ev.to, code: ev.code, st: ev.status });
      if (ev.status === Status.OK) recorder.recordOffsets(p, ev.to, ev.request, ev.reply);
    }
  }

  // The trace has what a viewer needs to draw every chart and table at any moment: each machine's definition
  // (once per process), each actor's start, its states, and (when the trace is kept) each role's figures once a
  // simulated second.
  const systems = new Map<string, ActorSystem>();
  const defined = new Set<string>();
  function followStates(p: string, actors: ActorSystem): void {
    systems.set(p, actors);
    actors.inspection$.subscribe((r) => {
      switch (r.kind) {
        case 'snapshot':
          trace!.record('state', { p, a: r.address, id: r.actorId, e: r.event, s: r.state, st: r.status });
          break;
        case 'actor':
          trace!.record('actor', { p, a: r.address, id: r.actorId, ...(r.machine !== undefined ? { m: r.machine } : {}), ...(r.parent !== undefined ? { parent: r.parent } : {}) });
          break;
        case 'machine':
          if (defined.has(`${p}|${r.machine}`)) break;
          defined.add(`${p}|${r.machine}`);
          trace!.record('machine', { p, m: r.machine, def: r.definition });
          break;
        case 'stats':
          trace!.record('stats', { p, a: r.address, stats: r.stats });
          break;
        default:
          break;
      }
    });
  }
  if (typeof opts.trace === 'function') clock.setInterval(() => systems.forEach((actors) => actors.sampleStats()), 1000);

  // ------------------------------------------------------------------ the processes
  const namesrv = s.topology.namesrv;
  for (const id of namesrv) cluster.add({ id, kind: 'namesrv', start: (actors) => startNameServer(actors, { id }) });
  for (const c of s.topology.controllers) {
    cluster.add({ id: c.id, kind: 'controller', start: (actors) => startController(actors, { id: c.id, settings: controllerSettingsOf(c) }) });
  }
  const brokerIds = brokerProcessIds(s.topology.brokers);
  s.topology.brokers.forEach((b, i) => {
    const pid = brokerIds[i]!;
    cluster.add({
      id: pid,
      kind: 'broker',
      address: brokerAddress(b.name, b.id),
      start: async (actors) => {
        const noWait = b.flush === 'sync' && opts.plantedBug === 'sync-flush-does-not-wait';
        const flush = noWait ? { flush: 'async' as const, flushIntervalMs: 1000, flushPacing: 'interval' as const, visibility: 'flushed' as const } : { flush: b.flush, flushIntervalMs: b.flushIntervalMs };
        const ha = b.ha ? { ha: haOptionsOf(b.ha) } : {};
        const storeMode = opts.storeMode ?? b.storeMode;
        const mode = storeMode !== undefined ? { storeMode } : {};
        const broker = await startBroker(actors, { name: b.name, id: b.id, ...ha, ...mode, namesrv, storeDir: `/${pid}`, segmentSize: b.segmentSize, ...flush });
        await broker.whenServing();
        return broker;
      },
    });
  });
  for (const p of s.topology.producers) {
    cluster.add({
      id: p.id,
      kind: 'producer',
      start: (actors, inc): Promise<Role> => {
        const base = producerOptionsOf(p, namesrv, inc);
        return p.transactional ? startTransactionProducer(actors, txProducerOptionsOf(s, p, base, driver)) : startProducer(actors, base);
      },
    });
  }
  for (const c of s.topology.consumers) {
    cluster.add({ id: c.id, kind: 'consumer', start: (actors, inc) => startConsumer(actors, consumerOptionsOf(c, namesrv, inc, recorder)) });
  }

  const admin = new AdminClient(cluster.endpoint(), { namesrv });
  const nemesis = new Nemesis({
    cluster,
    history,
    random,
    createTopic: async (t) => {
      await admin.createTopic(t.name, { readQueues: t.queues, writeQueues: t.queues });
    },
    deleteTopic: async (name) => {
      const endpoint = cluster.endpoint();
      for (const b of s.topology.brokers) if (b.id === 0) await endpoint.request(brokerAddress(b.name, 0), request(RequestCode.DELETE_TOPIC_IN_BROKER, { topic: name }));
      for (const n of namesrv) await endpoint.request(namesrvAddress(n), request(RequestCode.DELETE_TOPIC_IN_NAMESRV, { topic: name }));
    },
    onError: (what, err) => errors.push(`${what} failed: ${err instanceof Error ? err.message : String(err)}`),
    onDestroyed: (ids) => recorder.onDestroyed(ids),
  });

  /**
   * Broker groups with slaves: after the drain, each slave must come to hold its master's whole commit log
   * (asked every 500 ms for up to the drain time); what each member holds is written into the history
   * (`replication`, an info op of the runner) for the checker. Under a controller the master is the member that
   * says it is master (one, and every other member a slave of it), and each member's epoch goes along.
   */
  const replicationAtEnd = async (): Promise<void> => {
    const pids = brokerProcessIds(s.topology.brokers);
    const groups = [...new Set(s.topology.brokers.map((b) => b.name))]
      .map((name) => ({ name, members: s.topology.brokers.map((b, i) => ({ b, pid: pids[i]! })).filter((x) => x.b.name === name) }))
      .map((g) => ({ ...g, controlled: g.members.some((x) => x.b.ha?.controller !== undefined) }))
      .filter((g) => g.members.length > 1 && (g.controlled || g.members.some((x) => x.b.id === 0)))
      .map((g) => ({ ...g, members: [...g.members].sort((x, y) => x.b.id - y.b.id) }));
    if (groups.length === 0) return;
    const endpoint = cluster.endpoint();
    interface Held {
      master: string;
      writeOffsets: Record<string, number | null>;
      epochs?: Record<string, number | null>;
      done: boolean;
    }
    let held: Held[] = [];
    let done = false;
    let stop = false;
    const ask = async (address: string): Promise<{ writeOffset: number; role?: string; epoch?: number } | null> => {
      try {
        const reply = await endpoint.request(address, request(RequestCode.GET_BROKER_HA_STATUS, {}), { timeoutMs: 1000 });
        if (reply.status !== Status.OK) return null;
        const st = JSON.parse(new TextDecoder().decode(reply.body)) as { writeOffset?: unknown; role?: unknown; epoch?: unknown };
        if (typeof st.writeOffset !== 'number') return null;
        return { writeOffset: st.writeOffset, ...(typeof st.role === 'string' ? { role: st.role } : {}), ...(typeof st.epoch === 'number' ? { epoch: st.epoch } : {}) };
      } catch {
        return null;
      }
    };
    void (async () => {
      while (!stop) {
        const round: Held[] = [];
        for (const g of groups) {
          const writeOffsets: Record<string, number | null> = {};
          const epochs: Record<string, number | null> = {};
          const roles: Record<string, string | undefined> = {};
          for (const m of g.members) {
            const st = await ask(brokerAddress(g.name, m.b.id));
            writeOffsets[m.pid] = st?.writeOffset ?? null;
            epochs[m.pid] = st?.epoch ?? null;
            roles[m.pid] = st?.role;
          }
          const offsets = Object.values(writeOffsets);
          const same = offsets.every((x) => x !== null && x === offsets[0]);
          if (!g.controlled) {
            round.push({ master: g.members[0]!.pid, writeOffsets, done: same });
            continue;
          }
          const masters = g.members.filter((m) => roles[m.pid] === 'master');
          const master = masters.length === 1 ? masters[0]!.pid : '';
          const settled = master !== '' && g.members.every((m) => m.pid === master || roles[m.pid] === 'slave') && new Set(Object.values(epochs)).size === 1;
          round.push({ master, writeOffsets, epochs, done: same && settled });
        }
        held = round;
        done = held.every((h) => h.done);
        if (done || stop) return;
        await new Promise<void>((r) => clock.setTimeout(r, 500));
      }
    })();
    await clock.runUntil(() => done, s.checks.drain);
    stop = true;
    groups.forEach((g, i) => {
      const h = held[i];
      history.add('runner', 'info', 'replication', { group: g.name, master: h?.master ?? '', writeOffsets: h?.writeOffsets ?? {}, ...(h?.epochs ? { epochs: h.epochs } : {}) });
    });
  };

  const settle = async <T>(p: Promise<T>, what: string, withinMs: number): Promise<T | undefined> => {
    let done = false;
    let value: T | undefined;
    p.then(
      (v) => ((value = v), (done = true)),
      (err: unknown) => {
        done = true;
        errors.push(`${what} failed: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
    if (!(await clock.runUntil(() => done, withinMs))) errors.push(`${what} did not finish within ${withinMs} ms`);
    return value;
  };

  try {
    // the cluster comes up (controllers first, then name servers and brokers), topics are made, then the clients start (each at its time)
    await settle(Promise.all(s.topology.controllers.map((c) => cluster.start(c.id))), 'starting controllers', STARTUP_MS);
    await settle(Promise.all([...namesrv, ...brokerIds].map((id) => cluster.start(id))), 'starting name servers and brokers', STARTUP_MS);
    // under a controller a group has a master only once the controller elected one and it registered
    const createTopic = async (t: (typeof s.topology.topics)[number]): Promise<void> => {
      for (let tries = 1; ; tries++) {
        try {
          await admin.createTopic(t.name, { readQueues: t.queues, writeQueues: t.queues });
          return;
        } catch (err) {
          if (s.topology.controllers.length === 0 || tries >= 50) throw err;
          await new Promise<void>((r) => clock.setTimeout(r, 200));
        }
      }
    };
    await settle(Promise.all(s.topology.topics.map(createTopic)), 'creating topics', STARTUP_MS);
    const clients = [...s.topology.producers, ...s.topology.consumers];
    const t0 = clock.now();
    await settle(Promise.all(clients.filter((c) => c.start === 0).map((c) => cluster.start(c.id))), 'starting clients', STARTUP_MS);
    started = true;
    for (const c of clients) if (typeof c.start === 'number' && c.start > 0) clock.setTimeout(() => void cluster.start(c.id), Math.max(0, t0 + c.start - clock.now()));
    for (const w of s.workloads) driver.schedule({ ...w, from: t0 + w.from, until: t0 + w.until });

    const steps = scheduleTimeline(clock, t0, timeline, () => ({ acked: driver.acked.size, consumed: recorder.consumed }), (st) => nemesis.apply(st), CONDITION_EVERY_MS);
    const workEnd = workEndOf(s, timeline, t0);
    await clock.runUntil(() => clock.now() >= workEnd && steps.pending === 0, workEnd - clock.now() + s.checks.drain);
    steps.stop();
    if (steps.pending > 0) errors.push(`${steps.pending} timeline steps never ran (their condition did not hold)`);

    // the drain: every fault ends, then every acknowledged message must arrive
    draining = true;
    nemesis.healAll();
    history.add('runner', 'info', 'drain', {});
    // a send still in flight may yet be acknowledged: the drain waits for its answer too
    const drained = (): boolean => recorder.missing === 0 && driver.inFlight === 0;
    if (!(await clock.runUntil(drained, s.checks.drain))) await clock.runUntil(drained, 2 * s.checks.drain);
    await replicationAtEnd();
  } finally {
    cluster.shutdown();
  }

  const verdict = checkHistory(history.ops, checkOptionsOf(s, groupsOf, cluster.maxSkewMs()));
  return {
    name: s.name,
    seed,
    ok: verdict.ok && errors.length === 0,
    verdict,
    history: history.ops,
    errors,
    simMs: clock.now(),
    realMs: Math.round(performance.now() - realStart),
    traceDigest: trace.digest(),
    traceLines: trace.lines,
    timeline,
  };
}

/** The first line where two runs' traces differ (1-based), or undefined when they are the same. */
export interface Divergence {
  line: number;
  first: string | undefined;
  second: string | undefined;
}

/** Runs a scenario twice with one seed and compares the traces line by line. */
export async function checkDeterminism(s: Scenario, opts: RunOptions = {}): Promise<{ first: RunResult; divergence?: Divergence }> {
  const lines: string[] = [];
  const sink = opts.trace === false ? undefined : opts.trace;
  const first = await runScenario(s, { ...opts, trace: (l) => (lines.push(l), sink?.(l)) });
  let n = 0;
  let divergence: Divergence | undefined;
  await runScenario(s, {
    ...opts,
    trace: (l) => {
      if (divergence === undefined && lines[n] !== l) divergence = { line: n + 1, first: lines[n], second: l };
      n++;
    },
  });
  if (divergence === undefined && n !== lines.length) divergence = { line: n + 1, first: lines[n], second: undefined };
  return { first, divergence };
}

