import type { Subscription } from 'rxjs';
import type { Clock } from '../../core/clock.js';
import type { StorageBackend } from '../../store/backend.js';
import type { StoreOptions } from '../../store/open-store.js';
import type { ActorIo } from '../runtime/actor-host.js';
import { brokerAddress, namesrvAddress, type RegisterBrokerBody, type RegisterBrokerHeader } from '../protocol/commands.js';
import { RequestCode } from '../protocol/request-codes.js';
import { expectOk, request } from '../protocol/replies.js';
import { oneAtATime, Registrations } from './registration.js';
import { BODY_ENCODING_HEADER, DEFLATE, encodeRegisterBody, REGISTER_FRAME_OVERHEAD, type EncodedPart } from '../protocol/register-body.js';
import type { HeaderValue } from '../../transports/frame.js';
import { SCHEDULE_TOPIC } from '../protocol/validation.js';
import type { BrokerSettings } from './broker-options.js';
import { ClientRegistry } from './client-registry.js';
import { loadConsumerOffsets, saveConsumerOffsets, type ConsumerOffsets } from './consumer-offsets.js';
import { notifyGroupsChanged } from './handlers/clients.js';
import type { BrokerContext } from './handlers/context.js';
import { LongPolling } from './long-polling.js';
import { BrokerMetrics } from './broker-metrics.js';
import { Persister } from './persister.js';
import { DELAY_OFFSETS_FILE, DelayScheduler, loadDelayOffsets } from './schedule/delay-scheduler.js';
import { loadTimerProgress, TIMER_OFFSETS_FILE } from './schedule/timer-scheduler.js';
import type { StoreHealth, StorePort } from './store-port.js';
import { PERM_WRITE, type DataVersion, type TopicConfig } from '../protocol/route.js';
import { loadTopicTable, saveTopicTable } from './topic-config.js';
import { openTimerTx } from './timer-tx-runtime.js';
import { AclGuard } from '../runtime/acl-guard.js';
import { BrokerConfigError } from './broker-options.js';
import { applyMasterConfig, masterConfig, type ConfigParts } from './ha/config-sync.js';
import { HaService, wrapStore, type BrokerHa, type HaDeps } from './ha/ha-runtime.js';
import { remoteController, type ControllerPort } from './ha/controller-port.js';
import { kvController } from './ha/kv-controller.js';
import { KvError, type KvBucket } from '../../transports/transport.js';

/**
 * The broker's parts while it runs, and the steps of its lifecycle (open, register, periodic work, shut
 * down) as plain async functions; broker.machine.ts sequences them.
 */

export type OpenStore = (opts: StoreOptions) => Promise<StorePort>;

export interface BrokerDeps {
  io: ActorIo;
  settings: BrokerSettings;
  storage: StorageBackend;
  openStore: OpenStore;
  /** The broker's counters for metrics (kept by its handle across its life); a new set when not given. */
  metrics?: BrokerMetrics;
}

export interface BrokerRuntime {
  ctx: BrokerContext;
  /** Which name servers have the broker; retries of those that do not. */
  registrations: Registrations;
  /** What runs only on a master (the delay scheduler, the timer scheduler, the transaction service). */
  writers: { start(): Promise<void>; stop(): Promise<void> };
  saveOffsets(): Promise<void>;
  /** Offsets version last persisted. */
  persistedOffsets: number;
  subs: Subscription[];
  /** The ACL, with `aclFile`. */
  acl?: AclGuard;
}

/** Reads the ACL file (a bad one fails the start) and opens the broker; the ACL is stopped if opening fails. */
export async function openBroker(deps: BrokerDeps): Promise<BrokerRuntime> {
  const { io, settings: s, storage } = deps;
  const acl = s.acl && new AclGuard({ storage, path: s.acl.file, clock: io.clock, logger: io.logger, reloadMs: s.acl.reloadMs, replayWindowMs: s.acl.replayWindowMs });
  try {
    const rt = await openBrokerParts(deps, acl);
    if (acl) rt.acl = acl;
    return rt;
  } catch (err) {
    acl?.stop();
    throw err;
  }
}

/** Opens the store, loads topics and offsets, starts the delay scheduler. */
async function openBrokerParts(deps: BrokerDeps, acl: AclGuard | undefined): Promise<BrokerRuntime> {
  const { io, settings: s, storage } = deps;
  const now = io.clock.now();
  const topics = loadTopicTable(storage, s.storeDir, { autoCreate: s.autoCreateTopics, defaultQueueNums: s.defaultQueueNums }, now);
  const offsets: ConsumerOffsets = loadConsumerOffsets(storage, s.storeDir);
  const metrics = deps.metrics ?? new BrokerMetrics();
  // the schedulers' progress files are read again when they start; checked here so that a bad one stops the
  // start before the store opens
  loadDelayOffsets(storage, `${s.storeDir}/${DELAY_OFFSETS_FILE}`);
  loadTimerProgress(storage, `${s.storeDir}/${TIMER_OFFSETS_FILE}`);
  const rawStore = await deps.openStore({
    dir: s.storeDir,
    storage,
    clock: io.clock,
    random: io.random,
    logger: io.logger,
    storeHost: io.address,
    flush: s.flush,
    ...(s.flushIntervalMs !== undefined ? { flushIntervalMs: s.flushIntervalMs } : {}),
    ...(s.flushPacing !== undefined ? { flushPacing: s.flushPacing } : {}),
    visibility: s.visibility,
    storeMode: s.storeMode,
    ...(s.flushTimeoutMs !== undefined ? { flushTimeoutMs: s.flushTimeoutMs } : {}),
    ...(s.segmentSize !== undefined ? { segmentSize: s.segmentSize } : {}),
    ...(s.warmAheadBytes !== undefined ? { warmAheadBytes: s.warmAheadBytes } : {}),
    ...(s.maxOpenFiles !== undefined ? { maxOpenFiles: s.maxOpenFiles } : {}),
    ...(s.fileIdleCloseMs !== undefined ? { fileIdleCloseMs: s.fileIdleCloseMs } : {}),
    ...(s.retentionMs !== undefined ? { retentionMs: s.retentionMs } : {}),
    ...(s.maxDiskUsageRatio !== undefined ? { maxDiskUsageRatio: s.maxDiskUsageRatio } : {}),
    onFlush: (ms, bytes) => metrics.flushed(ms, bytes),
  });
  const topicsPersister = new Persister(() => saveTopicTable(storage, s.storeDir, topics));
  const offsetsPersister = new Persister(() => saveConsumerOffsets(storage, s.storeDir, offsets));
  let scheduler: DelayScheduler | undefined;
  const writers = {
    start: async (): Promise<void> => {
      const repl = rawStore.replication;
      if (repl && topics.coverQueues(repl.queueList(), io.clock.now())) await topicsChanged();
      scheduler = new DelayScheduler({ store, storage, storeDir: s.storeDir, clock: io.clock, logger: io.logger, levels: s.limits.delayLevels });
      scheduler.start();
      const timerTx = await openTimerTx(ctx, storage, s.storeDir, s.timerTx);
      ctx.timerTx = timerTx.services;
      if (timerTx.topicsCreated) await topicsPersister.save();
    },
    stop: async (): Promise<void> => {
      const sch = scheduler;
      scheduler = undefined;
      await sch?.stop();
      const tt = ctx.timerTx;
      delete ctx.timerTx;
      await tt?.stop();
    },
  };
  const ha = await openBrokerHa(deps, rawStore, { storage, storeDir: s.storeDir, topics, offsets, maxOffset: (t, q) => rawStore.maxOffset(t, q) }, {
    writers,
    topicsTaken: async (changed) => {
      if (changed) await topicsChanged();
    },
    roleChanged: () => {
      registrations.all().catch((err: unknown) => io.logger.warn({ err }, 'could not register the role change yet; retrying'));
    },
  });
  const store = ha ? wrapStore(rawStore, ha) : rawStore;
  const polling = new LongPolling(io.clock, s.maxHeldPulls, (err) => io.logger.error({ err }, 'a held pull failed'));
  /** Whether the store takes writes, and how often that changed (each change is a new registration version). */
  const writes = { ok: true, changes: 0 };
  let registerAttempts = 0;
  // the encoded topic configuration, kept while its data version and the frame limit stay the same
  let encoded: { key: string; parts: EncodedPart[] } | undefined;
  const encodedRegistration = (): EncodedPart[] => {
    const v = topics.dataVersion;
    const budget = io.maxPayload() - REGISTER_FRAME_OVERHEAD;
    const key = `${v.timestamp}.${v.counter}.${budget}.${writes.changes}`;
    if (encoded?.key !== key) {
      const body: RegisterBrokerBody = registrationBody(v, topics.list(), writes);
      encoded = { key, parts: encodeRegisterBody(body, budget) };
    }
    return encoded.parts;
  };
  const registrations = new Registrations({
    clock: io.clock,
    logger: io.logger,
    namesrv: s.namesrv,
    retry: s.registerRetry,
    register: oneAtATime(async (id) => {
      const parts = encodedRegistration();
      // parts go one after another: the name server takes them in order and registers at the last one
      const token = String(++registerAttempts);
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!;
        const h: Record<string, HeaderValue> = { ...registerHeader(deps, ha) };
        if (part.deflated) h[BODY_ENCODING_HEADER] = DEFLATE;
        if (parts.length > 1) Object.assign(h, { part: i, parts: parts.length, registration: token });
        const reply = await io.request(namesrvAddress(id), request(RequestCode.REGISTER_BROKER, h, part.body), s.registerTimeoutMs);
        expectOk(reply, parts.length > 1 ? `register with name server ${id} (part ${i + 1} of ${parts.length})` : `register with name server ${id}`);
      }
    }),
  });
  // A store that takes no writes registers its topics read-only at once, so that producers route elsewhere, and
  // writable again once it heals: RocketMQ's broker does the same when its disk fills.
  const storeHealthChanged = (h: StoreHealth): void => {
    if ((h.state === 'ok') === writes.ok) return;
    writes.ok = h.state === 'ok';
    writes.changes++;
    if (h.state === 'ok') io.logger.warn('store takes writes again: topics registered writable');
    else io.logger.error({ store: h }, `store takes no writes (${h.reason}): topics registered read-only until it heals`);
    registrations.all().catch((err: unknown) => io.logger.error({ err }, 'could not register the store health change'));
  };
  async function topicsChanged(): Promise<void> {
    await topicsPersister.save();
    // tell the name servers now rather than at the next interval, and wait for them (bounded), as RocketMQ
    // does on topic creation: once the first send to a new topic returns, a consumer finds its route
    await atMost(io.clock, registrations.all(), Math.min(s.registerTimeoutMs, TOPIC_REGISTER_WAIT_MS));
  }
  let rt: BrokerRuntime;
  const ctx: BrokerContext = {
    brokerName: s.name,
    brokerId: s.id,
    cluster: s.cluster,
    address: io.address,
    store,
    topics,
    offsets,
    clients: new ClientRegistry(),
    polling,
    clock: io.clock,
    random: io.random,
    logger: io.logger,
    limits: s.limits,
    metrics,
    maxPayload: () => io.maxPayload(),
    send: (to, frame) => io.send(to, frame),
    ...(acl ? { acl } : {}),
    topicsChanged: () => topicsChanged(),
    ...(ha ? { ha } : {}),
  };
  if (topics.createSystem(SCHEDULE_TOPIC, s.limits.delayLevels.length, now).created) await topicsPersister.save();
  rt = {
    ctx,
    registrations,
    writers,
    saveOffsets: async () => {
      const v = offsets.version;
      await offsetsPersister.save();
      rt.persistedOffsets = Math.max(rt.persistedOffsets, v);
    },
    persistedOffsets: offsets.version,
    subs: [store.newData$.subscribe((d) => polling.notify(d.topic, d.queueId, d.maxOffset)), store.health$.subscribe((h) => storeHealthChanged(h))],
  };
  // the writers run on a master only (a slave's would write what comes from the master's log): the HA service
  // starts them when the broker is or becomes master
  if (ha) await ha.start();
  else await writers.start();
  return rt;
}

/**
 * The broker's replication parts over its store (ha/ha-runtime.ts); `topicsTaken` hears a config sync's topic
 * change. None for an async master over a store that cannot replicate (a test's fake store).
 */
async function openBrokerHa(
  deps: BrokerDeps,
  store: StorePort,
  parts: ConfigParts,
  hooks: { writers: HaDeps['writers']; topicsTaken: (changed: boolean) => Promise<void>; roleChanged: () => void },
): Promise<BrokerHa | undefined> {
  const { io, settings: s } = deps;
  const repl = store.replication;
  if (repl === undefined) {
    if (s.id === 0 && s.ha.mode === 'async') return undefined;
    throw new BrokerConfigError(`broker ${io.address} replicates (id ${s.id}, ha mode ${s.ha.mode}) but its store cannot`);
  }
  return new HaService({
    brokerName: s.name,
    brokerId: s.id,
    address: io.address,
    repl,
    clock: io.clock,
    random: io.random,
    logger: io.logger,
    settings: s.ha,
    maxPayload: () => io.maxPayload(),
    request: (to, frame, timeoutMs) => io.request(to, frame, timeoutMs),
    offsets: () => parts.offsets.toFile(),
    applyConfig: async (m) => {
      const r = await applyMasterConfig(parts, m);
      await hooks.topicsTaken(r.topicsChanged);
    },
    serveConfig: (report) => masterConfig(parts, report),
    storage: deps.storage,
    storeDir: s.storeDir,
    topicsVersion: () => {
      const v = parts.topics.dataVersion;
      return `${v.timestamp}.${v.counter}`;
    },
    ...(await controllerPortOf(deps)),
    writers: hooks.writers,
    roleChanged: hooks.roleChanged,
  });
}

/**
 * The group's controller, with `ha.controller`: controller actors by id, or 'kv': the transport's key-value
 * bucket (JetStream KV on NATS), opened now so that a server without JetStream stops the start with why.
 */
async function controllerPortOf(deps: BrokerDeps): Promise<{ controller?: ControllerPort }> {
  const { io } = deps;
  const c = deps.settings.ha.controller;
  if (c === undefined) return {};
  if (c === 'kv') {
    const kv = deps.settings.ha.kv;
    const keyValue = io.keyValue?.bind(io);
    if (keyValue === undefined) throw new BrokerConfigError(`broker ${io.address}: ha.controller 'kv' needs a transport with key-value buckets (NATS with JetStream)`);
    let bucket: KvBucket;
    try {
      bucket = await openHaBucket(io, kv.bucket, () => keyValue(kv.bucket, { replicas: kv.replicas }));
    } catch (err) {
      throw new BrokerConfigError(`broker ${io.address}: cannot open the HA bucket ${kv.bucket}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return { controller: kvController(bucket, io.clock, kv.settings) };
  }
  return { controller: remoteController((to, frame, timeoutMs) => deps.io.request(to, frame, timeoutMs), c, Math.max(500, deps.settings.ha.heartbeatMs * 2)) };
}

/** How long a starting broker keeps trying a HA bucket that does not answer (a NATS cluster electing a leader). */
const HA_BUCKET_OPEN_WAIT_MS = 30_000;

/**
 * Opens the HA bucket. A bucket that does not answer in time (TIMEOUT: on a NATS cluster that lost a server, its
 * JetStream elects new leaders for some seconds) is tried again for up to HA_BUCKET_OPEN_WAIT_MS; anything else
 * (no JetStream, a bad name, a closed connection) fails at once.
 */
async function openHaBucket(io: ActorIo, bucket: string, open: () => Promise<KvBucket>): Promise<KvBucket> {
  const deadline = io.clock.now() + HA_BUCKET_OPEN_WAIT_MS;
  for (;;) {
    try {
      return await open();
    } catch (err) {
      if (!(err instanceof KvError && err.code === 'TIMEOUT') || io.clock.now() >= deadline) throw err;
      io.logger.warn({ err }, `the HA bucket ${bucket} does not answer yet; trying again`);
      await new Promise<void>((r) => io.clock.setTimeout(r, 500));
    }
  }
}

const HEALTH_VERSION_STEP = 1_000_000_000;

/**
 * What the broker registers: its topics, read-only while its store takes no writes. Each change of that is a
 * new data version (the name server takes a master's topics only when the version changes).
 */
export function registrationBody(version: DataVersion, list: TopicConfig[], writes: { ok: boolean; changes: number }): RegisterBrokerBody {
  // far above any count of topic changes, so that no topic change meets a health change's version
  const dataVersion = writes.changes === 0 ? version : { timestamp: version.timestamp, counter: version.counter + writes.changes * HEALTH_VERSION_STEP };
  return { dataVersion, topics: writes.ok ? list : list.map((t) => ({ ...t, perm: t.perm & ~PERM_WRITE })) };
}

/** What the broker registers as: its group, the id of its role (0 as master) and, under a controller, its epoch. */
function registerHeader(deps: BrokerDeps, ha: BrokerHa | undefined): RegisterBrokerHeader {
  const s = deps.settings;
  const h: RegisterBrokerHeader = { cluster: s.cluster, brokerName: s.name, brokerId: ha?.registrationId() ?? s.id, address: brokerAddress(s.name, s.id) };
  const epoch = ha?.registrationEpoch();
  if (epoch !== undefined) h.epoch = epoch;
  return h;
}

/**
 * The longest a request that created a topic waits for the name servers to learn it: well inside a
 * producer's send timeout, for a name server that does not answer.
 */
const TOPIC_REGISTER_WAIT_MS = 1_000;

/** Resolves when `p` settles or after `ms`, whichever comes first. */
function atMost(clock: Clock, p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = clock.setTimeout(resolve, ms);
    const done = (): void => {
      clock.clearTimeout(timer);
      resolve();
    };
    p.then(done, done);
  });
}

export async function unregisterFromNameServers(deps: BrokerDeps, ha?: BrokerHa): Promise<void> {
  const { io, settings: s } = deps;
  const header = { ...registerHeader(deps, ha) };
  await Promise.all(
    s.namesrv.map((id) =>
      io
        .request(namesrvAddress(id), request(RequestCode.UNREGISTER_BROKER, header), s.registerTimeoutMs)
        .then((r) => expectOk(r, `unregister from name server ${id}`))
        .catch((err: unknown) => io.logger.warn({ err, namesrv: id }, 'unregistration failed')),
    ),
  );
}

/** Drops silent clients and tells the members of groups that changed. */
export function scanClients(deps: BrokerDeps, rt: BrokerRuntime): void {
  const { changedGroups, expired } = rt.ctx.clients.scan(deps.io.clock.now(), deps.settings.clientExpiryMs);
  if (expired.length > 0) deps.io.logger.info({ expired }, 'clients expired');
  notifyGroupsChanged(rt.ctx, changedGroups);
}

/** Persists consumer offsets if they moved since the last time. */
export async function persistOffsetsIfMoved(rt: BrokerRuntime): Promise<void> {
  if (rt.ctx.offsets.version !== rt.persistedOffsets) await rt.saveOffsets();
}

/** Unregisters (after the registrations in flight), answers held pulls, stops the scheduler, persists offsets, closes the store. */
export async function shutDownBroker(deps: BrokerDeps, rt: BrokerRuntime): Promise<void> {
  await rt.ctx.ha?.stop();
  await rt.registrations.stop();
  await unregisterFromNameServers(deps, rt.ctx.ha);
  rt.acl?.stop();
  rt.ctx.polling.releaseAll();
  for (const sub of rt.subs) sub.unsubscribe();
  await rt.writers.stop();
  // held pulls answered above read the store in their own microtasks: let them finish before it closes
  await new Promise<void>((resolve) => queueMicrotask(resolve));
  await rt.saveOffsets();
  await rt.ctx.store.close();
}
