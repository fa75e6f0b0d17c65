import type { Logger } from 'pino';
import type { ActorIo } from '../runtime/actor-host.js';
import { namesrvAddress, type TopicRoute } from '../protocol/commands.js';
import { RequestCode } from '../protocol/request-codes.js';
import { parseJsonBody, request } from '../protocol/replies.js';
import { Status, StatusError } from '../../core/status.js';
import { selectBroker, type BrokerChoice, type ChosenBroker } from './broker-selection.js';

/**
 * Route look-ups for producers and consumers: ask one name server at a time, fall over to the next when one
 * does not answer, and keep a cache of the routes in use (refreshed on an interval by the owner and on
 * errors). Name servers are independent, so any one that answers is authoritative for the moment.
 */

/** Statuses that mean "this name server did not answer": try the next one. */
const UNREACHABLE: ReadonlySet<number> = new Set<number>([
  Status.TIMEOUT,
  Status.NO_RESPONDERS,
  Status.TRANSPORT_CLOSED,
  Status.SERVICE_NOT_AVAILABLE,
  Status.SYSTEM_BUSY,
  Status.SYSTEM_ERROR,
]);

export interface NamesrvClientOptions {
  /** Name server ids (`ns-1`); each is reached at `namesrvAddress(id)`. At least one. */
  namesrv: readonly string[];
  /** How long to wait for one name server. Default 3000 ms. */
  timeoutMs?: number;
}

export class NamesrvClient {
  private readonly addresses: string[];
  private readonly timeoutMs: number;
  /** Index of the name server that answered last; asked first next time. */
  private current = 0;

  constructor(
    private readonly io: Pick<ActorIo, 'request'>,
    opts: NamesrvClientOptions,
  ) {
    if (!Array.isArray(opts.namesrv) || opts.namesrv.length === 0)
      throw new StatusError(Status.INVALID_ARGUMENT, 'at least one name server id is needed (option "namesrv")');
    this.addresses = opts.namesrv.map((id) => namesrvAddress(id));
    this.timeoutMs = opts.timeoutMs ?? 3000;
  }

  /**
   * The route of `topic`, or undefined when the name server says the topic does not exist. Throws
   * StatusError(NO_ROUTE) when no name server answers.
   */
  async getRoute(topic: string): Promise<TopicRoute | undefined> {
    const errors: string[] = [];
    for (let i = 0; i < this.addresses.length; i++) {
      const idx = (this.current + i) % this.addresses.length;
      const addr = this.addresses[idx]!;
      try {
        const reply = await this.io.request(addr, request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }), this.timeoutMs);
        if (reply.status === Status.TOPIC_NOT_EXIST) {
          this.current = idx;
          return undefined;
        }
        if (reply.status !== Status.OK) {
          const msg = typeof reply.header.error === 'string' ? reply.header.error : 'no message';
          if (UNREACHABLE.has(reply.status)) {
            errors.push(`${addr}: status ${reply.status} ${msg}`);
            continue;
          }
          throw new StatusError(reply.status, `route of topic "${topic}" from ${addr}: ${msg}`);
        }
        this.current = idx;
        return parseJsonBody<TopicRoute>(reply);
      } catch (err) {
        if (err instanceof StatusError && UNREACHABLE.has(err.status)) {
          errors.push(`${addr}: ${err.message}`);
          continue;
        }
        throw err;
      }
    }
    throw new StatusError(Status.NO_ROUTE, `no name server answered for topic "${topic}" (${errors.join('; ')})`);
  }
}

export type RouteListener = (topic: string, route: TopicRoute | undefined) => void;

/** The routes of the topics a client uses, with de-duplicated concurrent fetches. */
export class RouteCache {
  private readonly routes = new Map<string, TopicRoute | undefined>();
  /**
   * brokerAddrs of each group asked for, until a route is set again: every request to a broker looks its address
   * up, and a scan of every cached route per request cost a consumer of 1,000 topics three quarters of its CPU.
   */
  private readonly addrs = new Map<string, Readonly<Record<string, string>> | undefined>();
  private readonly inflight = new Map<string, Promise<TopicRoute | undefined>>();
  private readonly listeners = new Set<RouteListener>();

  constructor(
    private readonly client: NamesrvClient,
    private readonly logger: Logger,
  ) {}

  /** The cached route (undefined when unknown or the topic does not exist). */
  get(topic: string): TopicRoute | undefined {
    return this.routes.get(topic);
  }

  /** The route of `topic`, from the cache unless `refresh` or not yet known. */
  route(topic: string, refresh = false): Promise<TopicRoute | undefined> {
    if (!refresh && this.routes.has(topic) && this.routes.get(topic) !== undefined) return Promise.resolve(this.routes.get(topic));
    const running = this.inflight.get(topic);
    if (running) return running;
    const p = this.client
      .getRoute(topic)
      .then((route) => {
        const before = this.routes.get(topic);
        this.routes.set(topic, route);
        this.addrs.clear();
        if (JSON.stringify(before) !== JSON.stringify(route)) for (const l of this.listeners) l(topic, route);
        return route;
      })
      .finally(() => this.inflight.delete(topic));
    this.inflight.set(topic, p);
    return p;
  }

  /** Marks a topic as in use (its route is fetched by the next refresh). */
  track(topic: string): void {
    if (!this.routes.has(topic)) this.routes.set(topic, undefined);
  }

  /** Refreshes every route in use; failures are logged and the old route kept. */
  async refreshAll(): Promise<void> {
    await Promise.all(
      [...this.routes.keys()].map((t) =>
        this.route(t, true).catch((err: unknown) => this.logger.warn({ err, topic: t }, 'route refresh failed; keeping the cached route')),
      ),
    );
  }

  topics(): string[] {
    return [...this.routes.keys()];
  }

  onChange(listener: RouteListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The addresses of broker group `brokerName` (id -> address) over the cached routes (a route fetched earlier
   * names an id first); undefined when no cached route has the group.
   */
  brokerAddrs(brokerName: string): Readonly<Record<string, string>> | undefined {
    if (this.addrs.has(brokerName)) return this.addrs.get(brokerName);
    let out: Record<string, string> | undefined;
    for (const route of this.routes.values()) {
      const bd = route?.brokerDatas.find((b) => b.brokerName === brokerName);
      if (!bd) continue;
      out ??= {};
      for (const [id, addr] of Object.entries(bd.addrs)) if (!(id in out)) out[id] = addr;
    }
    const frozen = out && Object.freeze(out);
    this.addrs.set(brokerName, frozen);
    return frozen;
  }

  /** The broker of group `brokerName` a request goes to (broker-selection.ts): its master unless `slaveOk` says otherwise. */
  brokerChoice(brokerName: string, choice: BrokerChoice = {}): ChosenBroker | undefined {
    const addrs = this.brokerAddrs(brokerName);
    return addrs === undefined ? undefined : selectBroker(addrs, choice);
  }

  /** The master's address of broker group `brokerName` in any cached route (a slave's when `slaveOk` and no master). */
  brokerAddress(brokerName: string, slaveOk = false): string | undefined {
    return this.brokerChoice(brokerName, { slaveOk })?.address;
  }

  /** Every broker address (masters and slaves) of the cached routes, sorted. */
  brokerAddresses(): string[] {
    const out = new Set<string>();
    for (const route of this.routes.values()) for (const bd of route?.brokerDatas ?? []) for (const a of Object.values(bd.addrs)) out.add(a);
    return [...out].sort();
  }

  /** Every broker group name of the cached routes, sorted. */
  brokerNames(): string[] {
    const out = new Set<string>();
    for (const route of this.routes.values()) for (const bd of route?.brokerDatas ?? []) out.add(bd.brokerName);
    return [...out].sort();
  }
}
