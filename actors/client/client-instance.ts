import type { Frame } from '../../transports/frame.js';
import type { ActorIo } from '../runtime/actor-host.js';
import type { RandomSource } from '../../core/random.js';
import type { HeartbeatBody } from '../protocol/commands.js';
import { RequestCode, requestCodeName } from '../protocol/request-codes.js';
import { expectOk, jsonBody, request } from '../protocol/replies.js';
import { Status, StatusError } from '../../core/status.js';
import { NamesrvClient, RouteCache } from './namesrv-client.js';
import { DEFAULT_MASTER_DOWN_MS, isUnreachable, type ChosenBroker } from './broker-selection.js';
import { MASTER_ID } from '../protocol/route.js';

/**
 * What producers and consumers share: a client id (their address is `clientAddress(clientId)`), the route
 * cache, heartbeats to every broker of the routes in use, unregistering, and requests to a broker group by
 * name. Timers are the owner's (its machine ticks `heartbeat()` and `routes.refreshAll()`).
 *
 * Each instance draws an instance token from the Environment's random source and sends it with its heartbeats
 * and unregistrations: a broker refuses (CLIENT_ID_CONFLICT) a consumer whose client id another live client of
 * its group, in another process, already uses.
 */

const hex = (bytes: Uint8Array): string => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');

/** A fresh client id: `<kind>-<12 hex digits>` (no dots: it is part of an address). */
export function newClientId(kind: string, random: RandomSource): string {
  return `${kind}-${hex(random.bytes(6))}`;
}

/** What one round of heartbeats found. */
export interface HeartbeatOutcome {
  /** Brokers that did not acknowledge, sorted. */
  failed: string[];
  /** The refusals of brokers on which another live client holds this client id (CLIENT_ID_CONFLICT). */
  conflicts: StatusError[];
}

export interface ConsumerRegistration {
  group: string;
  messageModel: 'CLUSTERING' | 'BROADCASTING';
  subscriptions: Record<string, string>;
}

export interface ClientInstanceOptions {
  clientId: string;
  namesrv: readonly string[];
  /** Timeout of control requests (routes, heartbeats, offsets). Default 3000 ms. */
  requestTimeoutMs?: number;
  /**
   * How long a master that did not answer a slaveOk request (a read) is passed over by the reads of its group,
   * which go to its slave of lowest id meanwhile. Default 10000 ms.
   */
  masterDownMs?: number;
}

/** Options of a request to a broker group (requestBroker). */
export interface BrokerRequestOptions {
  timeoutMs?: number;
  /** A slave may serve it (reads): see broker-selection.ts. Else it goes to the master only. */
  slaveOk?: boolean;
  /** slaveOk: the broker id to send it to when the route has it (the group's last suggestion), else the master. */
  preferBrokerId?: number;
  /** Reply statuses taken as they are (else the reply must be OK). */
  allow?: readonly number[];
  /**
   * slaveOk: ask the master first even while it is marked down (a slave only when it does not answer now). For
   * reads whose answer a slave may hold stale, like a committed offset: a slave copies its master's every few
   * seconds, and an older offset makes a consumer read messages again.
   */
  masterFirst?: boolean;
}

export class ClientInstance {
  readonly clientId: string;
  /** 16 random hex digits drawn once: tells this client from another process's client with the same id. */
  readonly instance: string;
  readonly routes: RouteCache;
  readonly producerGroups = new Set<string>();
  readonly consumers = new Map<string, ConsumerRegistration>();
  readonly requestTimeoutMs: number;
  readonly masterDownMs: number;
  /** Broker group -> until when its master is passed over by slaveOk requests (it did not answer one). */
  /** Per broker group: the master address that did not answer a read, and until when reads pass it over. */
  private readonly masterDown = new Map<string, { address: string; until: number }>();

  constructor(
    readonly io: ActorIo,
    opts: ClientInstanceOptions,
  ) {
    this.clientId = opts.clientId;
    this.instance = hex(io.random.bytes(8));
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 3000;
    this.masterDownMs = opts.masterDownMs ?? DEFAULT_MASTER_DOWN_MS;
    if (!Number.isFinite(this.masterDownMs) || this.masterDownMs < 0)
      throw new StatusError(Status.INVALID_ARGUMENT, `masterDownMs must be a number of at least 0, got ${String(opts.masterDownMs)}`);
    this.routes = new RouteCache(new NamesrvClient(io, { namesrv: opts.namesrv, timeoutMs: this.requestTimeoutMs }), io.logger);
  }

  heartbeatBody(): HeartbeatBody {
    return { producerGroups: [...this.producerGroups].sort(), consumers: [...this.consumers.values()] };
  }

  /** Sends one heartbeat to every broker of the routes in use; returns the addresses that did not acknowledge. */
  async heartbeat(): Promise<string[]> {
    return (await this.heartbeatAll()).failed;
  }

  /**
   * Sends one heartbeat to every broker of the routes in use; returns the brokers that did not acknowledge and
   * the refusals for a client id taken by another client (logged as errors: two members with one id read the
   * same queues).
   */
  async heartbeatAll(): Promise<HeartbeatOutcome> {
    const body = jsonBody(this.heartbeatBody());
    const failed: string[] = [];
    const conflicts: StatusError[] = [];
    await Promise.all(
      this.routes.brokerAddresses().map(async (addr) => {
        try {
          expectOk(await this.io.request(addr, request(RequestCode.HEART_BEAT, { clientId: this.clientId, instance: this.instance }, body), this.requestTimeoutMs), `heartbeat to ${addr}`);
        } catch (err) {
          failed.push(addr);
          if (err instanceof StatusError && err.status === Status.CLIENT_ID_CONFLICT) {
            conflicts.push(err);
            this.io.logger.error({ err, broker: addr }, 'heartbeat refused: another live client uses this client id');
          } else this.io.logger.debug({ err, broker: addr }, 'heartbeat failed');
        }
      }),
    );
    return { failed: failed.sort(), conflicts };
  }

  /** Tells every broker this client leaves `group` (best effort; failures are logged). */
  async unregister(groups: { producerGroup?: string; consumerGroup?: string }): Promise<void> {
    const header: Record<string, string> = { clientId: this.clientId, instance: this.instance };
    if (groups.producerGroup) header.producerGroup = groups.producerGroup;
    if (groups.consumerGroup) header.consumerGroup = groups.consumerGroup;
    await Promise.all(
      this.routes.brokerAddresses().map(async (addr) => {
        try {
          expectOk(await this.io.request(addr, request(RequestCode.UNREGISTER_CLIENT, header), this.requestTimeoutMs), `unregister at ${addr}`);
        } catch (err) {
          this.io.logger.warn({ err, broker: addr }, 'unregister failed; the broker will expire this client');
        }
      }),
    );
  }

  /** The address of broker group `brokerName` (its master unless `slaveOk`); StatusError(NO_ROUTE) when unknown. */
  brokerAddressOf(brokerName: string, slaveOk = false): string {
    return this.brokerOf(brokerName, { slaveOk }).address;
  }

  /** Whether reads of group `brokerName` pass its master over now (it did not answer one lately). */
  isMasterDown(brokerName: string): boolean {
    const mark = this.masterDown.get(brokerName);
    if (mark === undefined) return false;
    // a new master (a failover) is not the one that did not answer
    if (this.io.clock.now() < mark.until && this.routes.brokerAddrs(brokerName)?.[MASTER_ID] === mark.address) return true;
    this.masterDown.delete(brokerName);
    return false;
  }

  private brokerOf(brokerName: string, opts: BrokerRequestOptions): ChosenBroker {
    const chosen = this.routes.brokerChoice(brokerName, {
      slaveOk: opts.slaveOk ?? false,
      ...(opts.preferBrokerId !== undefined ? { preferId: opts.preferBrokerId } : {}),
      ...(!opts.masterFirst && this.isMasterDown(brokerName) ? { masterDownUntil: this.masterDown.get(brokerName)!.until, now: this.io.clock.now() } : {}),
    });
    if (chosen === undefined) throw new StatusError(Status.NO_ROUTE, `no address known for broker "${brokerName}"`);
    return chosen;
  }

  /**
   * A request to broker group `brokerName`; the reply must be OK unless `allow` lists its status. A slaveOk
   * request its master does not answer (unreachable, or SERVICE_NOT_AVAILABLE) marks the master down for
   * `masterDownMs` and goes once more, to the slave the group's addresses then give (if any).
   */
  async requestBroker(brokerName: string, frame: Frame, opts: BrokerRequestOptions = {}): Promise<Frame> {
    const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
    const first = this.brokerOf(brokerName, opts);
    let addr = first.address;
    let reply: Frame | undefined;
    let failure: unknown;
    try {
      reply = await this.io.request(addr, frame, timeoutMs);
    } catch (err) {
      failure = err;
    }
    if (opts.slaveOk && first.id === MASTER_ID && isUnreachable(reply === undefined ? failure : reply.status)) {
      this.masterDown.set(brokerName, { address: addr, until: this.io.clock.now() + this.masterDownMs });
      const next = this.brokerOf(brokerName, { ...opts, masterFirst: false });
      if (next.address !== addr) {
        this.io.logger.info({ broker: brokerName, master: addr, to: next.address, forMs: this.masterDownMs }, 'master did not answer a read: reading from a slave meanwhile');
        addr = next.address;
        reply = await this.io.request(addr, frame, timeoutMs);
        failure = undefined;
      }
    }
    if (reply === undefined) throw failure;
    if (opts.allow?.includes(reply.status)) return reply;
    return expectOk(reply, `${requestCodeName(frame.code)} to ${addr}`);
  }
}
