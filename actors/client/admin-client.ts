/**
 * The admin client behind `mq admin`: topics, routes, cluster, consumer progress, replication and message look-ups.
 *
 * It only sends requests (no inbox): name server questions go to one name server at a time, falling over to
 * the next when one does not answer; broker questions go to the brokers the name server reports. Every
 * failure is a StatusError with a message that says what was asked and who did not answer.
 */
import type { Frame, Header } from '../../transports/frame.js';
import type { Transport } from '../../transports/transport.js';
import {
  namesrvAddress,
  type BrokerStatus,
  type ClusterInfo,
  type ClusterInfoReplyBody,
  type ConsumerProgressBody,
  type HaStatus,
  type RouteReplyBody,
  type TopicConfig,
  type TopicListReplyBody,
  type TopicRoute,
} from '../protocol/commands.js';
import type { MessageExt } from '../../core/message.js';
import { decodeMessageExtBatch } from '../../core/message-codec.js';
import { RequestCode, requestCodeName } from '../protocol/request-codes.js';
import { expectOk, jsonBody, parseJsonBody, request } from '../protocol/replies.js';
import { Status, StatusError } from '../../core/status.js';
import { topicProblem, groupProblem } from '../protocol/validation.js';
import { MASTER_ID, PERM_READ_WRITE, type BrokerData } from '../protocol/route.js';
import { decodeMessageId } from '../../store/message-id.js';
import type { Clock } from '../../core/clock.js';
import { signFrame, type Credentials } from '../protocol/acl/signing.js';
import { checkCredentials } from '../runtime/signed-io.js';

/** The most pages of a topic list read (a bound against a name server that never says it is done). */
const MAX_TOPIC_LIST_PAGES = 10_000;
/** Statuses that mean "this peer did not answer": try the next name server. */
const UNREACHABLE: ReadonlySet<number> = new Set<number>([
  Status.TIMEOUT,
  Status.NO_RESPONDERS,
  Status.TRANSPORT_CLOSED,
  Status.SERVICE_NOT_AVAILABLE,
  Status.SYSTEM_BUSY,
]);

export interface AdminClientOptions {
  /** Name server ids (`ns-1`); at least one. */
  namesrv: readonly string[];
  /** How long one request waits for its answer. Default 3000 ms. */
  timeoutMs?: number;
  /** The sender address stamped on requests (default `admin`). */
  from?: string;
  /** Access and secret key: every request is signed with them (for an ACL). Needs `clock`. */
  credentials?: Credentials;
  /** The clock whose time signed requests carry (the Environment's). */
  clock?: Pick<Clock, 'now'>;
}

export interface CreateTopicOptions {
  /** Create on every broker group of this cluster (default: the only cluster; an error when there are several). */
  cluster?: string;
  /** Create on this broker group only. */
  brokerName?: string;
  /** Default 4. */
  readQueues?: number;
  /** Default 4. */
  writeQueues?: number;
  /** Default PERM_READ_WRITE. */
  perm?: number;
}

export interface CreateTopicResult {
  config: TopicConfig;
  /** The master brokers that acknowledged, as `{ brokerName, address }`, sorted by name. */
  brokers: { brokerName: string; address: string }[];
}

export type QueueProgress = ConsumerProgressBody['queues'][number];

export interface ConsumerProgress {
  group: string;
  /** Sorted by topic, broker name, queue id. */
  queues: QueueProgress[];
  totalLag: number;
  /** Brokers that did not answer (their queues are missing from `queues`), with why. */
  unreachable: { address: string; error: string }[];
}

/** The replication status of one broker group: what each of its registered brokers says (GET_BROKER_HA_STATUS). */
export interface HaGroupStatus {
  brokerName: string;
  cluster: string;
  /** The statuses of the brokers that answered, by broker id. */
  brokers: HaStatus[];
  /** Registered brokers of the group that did not answer (or answered with an error), by broker id. */
  unreachable: { brokerId: number; address: string; error: string }[];
}

/** A client that only sends requests: the transport's `request`. */
export type AdminTransport = Pick<Transport, 'request'>;

export class AdminClient {
  private readonly namesrv: string[];
  private readonly timeoutMs: number;
  private readonly from: string;
  /** The name server that answered last; asked first next time. */
  private current = 0;

  constructor(
    private readonly transport: AdminTransport,
    opts: AdminClientOptions,
  ) {
    if (!Array.isArray(opts.namesrv) || opts.namesrv.length === 0)
      throw new StatusError(Status.INVALID_ARGUMENT, 'at least one name server id is needed (option "namesrv")');
    this.namesrv = opts.namesrv.map((id) => namesrvAddress(id));
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.from = opts.from ?? 'admin';
    const credentials = checkCredentials(opts.credentials);
    if (credentials !== undefined) {
      const clock = opts.clock;
      if (clock === undefined) throw new StatusError(Status.INVALID_ARGUMENT, 'signing requests needs a clock (option "clock")');
      this.sign = (f) => signFrame(f, credentials, clock.now());
    }
  }

  /** Signs a request when the client has credentials (the one place every request passes). */
  private readonly sign: (f: Frame) => Frame = (f) => f;

  // ------------------------------------------------------------------------------------------ name server

  /**
   * Asks the name servers in turn until one answers. A reply whose status is in `allow` is returned as is;
   * another non-OK status from a name server that answered is thrown at once.
   */
  private async askNamesrv(code: number, header: Header, what: string, allow: readonly number[] = []): Promise<Frame> {
    const errors: string[] = [];
    for (let i = 0; i < this.namesrv.length; i++) {
      const idx = (this.current + i) % this.namesrv.length;
      const addr = this.namesrv[idx]!;
      let reply: Frame;
      try {
        reply = await this.transport.request(addr, this.sign(request(code, header)), { from: this.from, timeoutMs: this.timeoutMs });
      } catch (err) {
        if (err instanceof StatusError && UNREACHABLE.has(err.status)) {
          errors.push(`${addr}: ${err.message}`);
          continue;
        }
        throw err;
      }
      if (reply.status !== Status.OK && UNREACHABLE.has(reply.status)) {
        errors.push(`${addr}: ${typeof reply.header.error === 'string' ? reply.header.error : `status ${reply.status}`}`);
        continue;
      }
      this.current = idx;
      if (allow.includes(reply.status)) return reply;
      return expectOk(reply, `${what} from ${addr}`);
    }
    throw new StatusError(Status.NO_ROUTE, `${what}: no name server answered (${errors.join('; ')})`);
  }

  /** Brokers, their addresses and clusters, as a name server knows them. */
  async clusterInfo(): Promise<ClusterInfo> {
    const reply = await this.askNamesrv(RequestCode.GET_BROKER_CLUSTER_INFO, {}, 'cluster info');
    return parseJsonBody<ClusterInfoReplyBody>(reply);
  }

  /**
   * Every topic the name server has a route for, sorted. A long list comes in pages (reply header `more`; the
   * next page is asked for after the last name received), at most MAX_TOPIC_LIST_PAGES of them.
   */
  async listTopics(): Promise<string[]> {
    const all: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < MAX_TOPIC_LIST_PAGES; page++) {
      const reply = await this.askNamesrv(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, after === undefined ? {} : { after }, 'topic list');
      const topics = parseJsonBody<TopicListReplyBody>(reply).topics;
      all.push(...topics);
      if (reply.header.more !== true || topics.length === 0) return [...new Set(all)].sort();
      after = topics[topics.length - 1];
    }
    throw new StatusError(Status.SYSTEM_ERROR, `topic list: more than ${MAX_TOPIC_LIST_PAGES} pages`);
  }

  /** The route of `topic`; StatusError(TOPIC_NOT_EXIST) when the name server has none. */
  async route(topic: string): Promise<TopicRoute> {
    checkTopic(topic);
    const reply = await this.askNamesrv(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }, `route of topic "${topic}"`, [Status.TOPIC_NOT_EXIST]);
    if (reply.status === Status.TOPIC_NOT_EXIST) throw new StatusError(Status.TOPIC_NOT_EXIST, `topic "${topic}" has no route (it does not exist, or no broker serving it is registered)`);
    return parseJsonBody<RouteReplyBody>(reply);
  }

  /** The route of `topic`, or undefined when it has none. */
  async tryRoute(topic: string): Promise<TopicRoute | undefined> {
    try {
      return await this.route(topic);
    } catch (err) {
      if (err instanceof StatusError && err.status === Status.TOPIC_NOT_EXIST) return undefined;
      throw err;
    }
  }

  // ------------------------------------------------------------------------------------------ brokers

  private async askBroker(address: string, code: number, header: Header, body?: Uint8Array, allow: readonly number[] = []): Promise<Frame> {
    const reply = await this.transport.request(address, this.sign(request(code, header, body)), { from: this.from, timeoutMs: this.timeoutMs });
    if (allow.includes(reply.status)) return reply;
    return expectOk(reply, `${requestCodeName(code)} to ${address}`);
  }

  /**
   * Creates (or updates) `topic` on the master of every broker group of the cluster (or of one broker group).
   * The brokers register the change with the name servers themselves.
   */
  async createTopic(topic: string, opts: CreateTopicOptions = {}): Promise<CreateTopicResult> {
    checkTopic(topic);
    const config: TopicConfig = {
      topicName: topic,
      readQueueNums: queueCount(opts.readQueues ?? 4, 'readQueues'),
      writeQueueNums: queueCount(opts.writeQueues ?? 4, 'writeQueues'),
      perm: opts.perm ?? PERM_READ_WRITE,
      topicSysFlag: 0,
    };
    const info = await this.clusterInfo();
    const targets = pickBrokers(info, opts);
    const body = jsonBody(config);
    const failures: string[] = [];
    const done: { brokerName: string; address: string }[] = [];
    await Promise.all(
      targets.map(async (bd) => {
        const address = bd.addrs[MASTER_ID];
        if (address === undefined) {
          failures.push(`broker group "${bd.brokerName}" has no master registered`);
          return;
        }
        try {
          await this.askBroker(address, RequestCode.UPDATE_AND_CREATE_TOPIC, {}, body);
          done.push({ brokerName: bd.brokerName, address });
        } catch (err) {
          failures.push(err instanceof Error ? err.message : String(err));
        }
      }),
    );
    if (failures.length > 0) {
      const ok = done.length > 0 ? ` (created on ${done.map((d) => d.brokerName).sort().join(', ')})` : '';
      throw new StatusError(Status.SYSTEM_ERROR, `create topic "${topic}" failed on ${failures.length} of ${targets.length} brokers${ok}: ${failures.sort().join('; ')}`);
    }
    done.sort((a, b) => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : 0));
    return { config, brokers: done };
  }

  /**
   * The status of every registered broker (masters and slaves): whether its store takes writes and why not,
   * its commit log positions and the bytes found corrupt. A broker that does not answer is listed with its error.
   */
  async brokerStatus(): Promise<{ brokers: BrokerStatus[]; unreachable: { address: string; error: string }[] }> {
    const addresses = allAddresses(await this.clusterInfo());
    const brokers: BrokerStatus[] = [];
    const unreachable: { address: string; error: string }[] = [];
    await Promise.all(
      addresses.map(async (address) => {
        try {
          brokers.push(parseJsonBody<BrokerStatus>(await this.askBroker(address, RequestCode.GET_BROKER_RUNTIME_INFO, {})));
        } catch (err) {
          unreachable.push({ address, error: err instanceof Error ? err.message : String(err) });
        }
      }),
    );
    brokers.sort((a, b) => (a.address < b.address ? -1 : 1));
    unreachable.sort((a, b) => (a.address < b.address ? -1 : 1));
    return { brokers, unreachable };
  }

  /**
   * The replication status of broker group `brokerName`: every address the name servers have for it is asked
   * for its HA status at once; those that do not answer are listed in `unreachable` with why. StatusError
   * (NO_ROUTE) when the name servers do not know the group.
   */
  async haStatus(brokerName: string): Promise<HaGroupStatus> {
    const info = await this.clusterInfo();
    const bd = info.brokerAddrTable[brokerName];
    if (bd === undefined) {
      const known = Object.keys(info.brokerAddrTable).sort();
      throw new StatusError(Status.NO_ROUTE, `broker group "${brokerName}" is not registered with the name servers (${known.length > 0 ? `known: ${known.join(', ')}` : 'no broker is registered'})`);
    }
    const brokers: HaStatus[] = [];
    const unreachable: HaGroupStatus['unreachable'] = [];
    await Promise.all(
      Object.entries(bd.addrs).map(async ([id, address]) => {
        try {
          brokers.push(await this.brokerHaStatus(address));
        } catch (err) {
          unreachable.push({ brokerId: Number(id), address, error: err instanceof Error ? err.message : String(err) });
        }
      }),
    );
    brokers.sort((a, b) => a.brokerId - b.brokerId);
    unreachable.sort((a, b) => a.brokerId - b.brokerId);
    return { brokerName, cluster: bd.cluster, brokers, unreachable };
  }

  /** The HA status one broker reports (GET_BROKER_HA_STATUS). */
  async brokerHaStatus(address: string): Promise<HaStatus> {
    const st = parseJsonBody<HaStatus>(await this.askBroker(address, RequestCode.GET_BROKER_HA_STATUS, {}));
    if (typeof st !== 'object' || st === null || typeof st.role !== 'string') throw new StatusError(Status.BAD_FRAME, `malformed HA status from ${address}`);
    return st;
  }

  /**
   * Consumer progress of `group`: per queue, the broker's max offset, the group's committed offset and the
   * lag, from every master broker (each reports the topics the group consumes there, its retry topic
   * included). With `topics`, only those topics are kept.
   */
  async consumerProgress(group: string, topics?: readonly string[]): Promise<ConsumerProgress> {
    const gp = groupProblem(group);
    if (gp) throw new StatusError(Status.INVALID_ARGUMENT, gp);
    const info = await this.clusterInfo();
    const masters = masterAddresses(info);
    if (masters.length === 0) throw new StatusError(Status.NO_ROUTE, 'no master broker is registered with the name server');
    const queues: QueueProgress[] = [];
    const unreachable: { address: string; error: string }[] = [];
    await Promise.all(
      masters.map(async (address) => {
        try {
          const reply = await this.askBroker(address, RequestCode.GET_CONSUMER_STATS_FROM_SERVER, { consumerGroup: group });
          const body = parseJsonBody<ConsumerProgressBody>(reply);
          if (!body || !Array.isArray(body.queues)) throw new StatusError(Status.BAD_FRAME, `malformed consumer progress from ${address}`);
          queues.push(...body.queues);
        } catch (err) {
          unreachable.push({ address, error: err instanceof Error ? err.message : String(err) });
        }
      }),
    );
    if (unreachable.length === masters.length)
      throw new StatusError(Status.NO_ROUTE, `consumer progress of "${group}": no broker answered (${unreachable.map((u) => u.error).join('; ')})`);
    const wanted = topics && topics.length > 0 ? new Set(topics) : undefined;
    const kept = queues.filter((q) => !wanted || wanted.has(q.topic)).sort(compareProgress);
    unreachable.sort((a, b) => (a.address < b.address ? -1 : 1));
    return { group, queues: kept, totalLag: kept.reduce((s, q) => s + q.lag, 0), unreachable };
  }

  /**
   * The message with store-side id `msgId`. The id names the broker that stored it; when that broker does
   * not answer (or the id names no broker address), every registered broker is asked.
   */
  async messageById(msgId: string): Promise<MessageExt> {
    let storeHost: string;
    try {
      storeHost = decodeMessageId(msgId).storeHost;
    } catch (err) {
      throw new StatusError(Status.INVALID_ARGUMENT, err instanceof Error ? err.message : String(err));
    }
    const errors: string[] = [];
    const tryOne = async (address: string): Promise<MessageExt | undefined> => {
      try {
        const reply = await this.askBroker(address, RequestCode.VIEW_MESSAGE_BY_ID, { msgId }, undefined, [Status.QUERY_NOT_FOUND]);
        if (reply.status === Status.QUERY_NOT_FOUND) return undefined;
        return decodeMessageExtBatch(reply.body)[0];
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err));
        return undefined;
      }
    };
    if (storeHost.startsWith('broker.')) {
      const found = await tryOne(storeHost);
      if (found) return found;
    }
    const info = await this.clusterInfo();
    const others = allAddresses(info).filter((a) => a !== storeHost);
    const found = (await Promise.all(others.map(tryOne))).find((m) => m !== undefined);
    if (found) return found;
    const why = errors.length > 0 ? ` (${errors.join('; ')})` : '';
    throw new StatusError(Status.QUERY_NOT_FOUND, `no message with id ${msgId} (stored by ${storeHost})${why}`);
  }

  /** Messages of `topic` with business key `key`, from every broker of the topic's route, by store time. */
  async messagesByKey(topic: string, key: string, maxNum = 64): Promise<MessageExt[]> {
    if (typeof key !== 'string' || key.length === 0) throw new StatusError(Status.INVALID_ARGUMENT, 'a message key must be a non-empty string');
    const route = await this.route(topic);
    const addresses = route.brokerDatas
      .map((bd) => bd.addrs[MASTER_ID] ?? firstAddress(bd))
      .filter((a): a is string => a !== undefined)
      .sort();
    const found: MessageExt[] = [];
    const errors: string[] = [];
    await Promise.all(
      addresses.map(async (address) => {
        try {
          const reply = await this.askBroker(address, RequestCode.QUERY_MESSAGE, { topic, key, maxNum }, undefined, [Status.QUERY_NOT_FOUND]);
          if (reply.status === Status.OK) found.push(...decodeMessageExtBatch(reply.body));
        } catch (err) {
          errors.push(err instanceof Error ? err.message : String(err));
        }
      }),
    );
    if (errors.length > 0 && errors.length === addresses.length)
      throw new StatusError(Status.NO_ROUTE, `query key "${key}" in topic "${topic}": no broker answered (${errors.join('; ')})`);
    return found.sort((a, b) => a.storeTimestamp - b.storeTimestamp || (a.msgId < b.msgId ? -1 : a.msgId > b.msgId ? 1 : 0)).slice(0, maxNum);
  }
}

// ---------------------------------------------------------------------------------------------- helpers

function checkTopic(topic: string): void {
  const p = topicProblem(topic, { allowSystem: true });
  if (p) throw new StatusError(Status.INVALID_ARGUMENT, p);
}

function queueCount(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new StatusError(Status.INVALID_ARGUMENT, `${what} must be an integer in [1, 1024], got ${n}`);
  return n;
}

function firstAddress(bd: BrokerData): string | undefined {
  const ids = Object.keys(bd.addrs).map(Number).sort((a, b) => a - b);
  return ids.length > 0 ? bd.addrs[ids[0]!] : undefined;
}

/** The broker groups a topic is created on (pure; exported for tests). */
export function pickBrokers(info: ClusterInfo, opts: { cluster?: string; brokerName?: string }): BrokerData[] {
  const clusters = Object.keys(info.clusterAddrTable).sort();
  if (opts.brokerName !== undefined) {
    const bd = info.brokerAddrTable[opts.brokerName];
    if (!bd) throw new StatusError(Status.NO_ROUTE, `broker "${opts.brokerName}" is not registered with the name server`);
    if (opts.cluster !== undefined && bd.cluster !== opts.cluster)
      throw new StatusError(Status.INVALID_ARGUMENT, `broker "${opts.brokerName}" is in cluster "${bd.cluster}", not "${opts.cluster}"`);
    return [bd];
  }
  if (clusters.length === 0) throw new StatusError(Status.NO_ROUTE, 'no broker is registered with the name server');
  let cluster = opts.cluster;
  if (cluster === undefined) {
    if (clusters.length > 1) throw new StatusError(Status.INVALID_ARGUMENT, `there are ${clusters.length} clusters (${clusters.join(', ')}): name one`);
    cluster = clusters[0]!;
  }
  const names = info.clusterAddrTable[cluster];
  if (!names || names.length === 0) throw new StatusError(Status.NO_ROUTE, `cluster "${cluster}" is not known to the name server (known: ${clusters.join(', ')})`);
  return [...names].sort().map((n) => info.brokerAddrTable[n]).filter((b): b is BrokerData => b !== undefined);
}

/** Master addresses of every broker group, sorted. */
export function masterAddresses(info: ClusterInfo): string[] {
  return Object.values(info.brokerAddrTable)
    .map((bd) => bd.addrs[MASTER_ID])
    .filter((a): a is string => a !== undefined)
    .sort();
}

/** Every broker address (masters and slaves), sorted. */
export function allAddresses(info: ClusterInfo): string[] {
  const out = new Set<string>();
  for (const bd of Object.values(info.brokerAddrTable)) for (const a of Object.values(bd.addrs)) out.add(a);
  return [...out].sort();
}

function compareProgress(a: QueueProgress, b: QueueProgress): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.brokerName !== b.brokerName) return a.brokerName < b.brokerName ? -1 : 1;
  return a.queueId - b.queueId;
}
