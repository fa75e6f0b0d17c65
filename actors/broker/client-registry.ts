import type { HeartbeatBody } from '../protocol/commands.js';
import { Status, StatusError } from '../../core/status.js';
import { groupProblem } from '../protocol/validation.js';

/**
 * Producers and consumers the broker knows from their heartbeats: per group, its clients and when each was
 * last heard from; per consumer group, its message model and subscriptions. Every change reports which
 * consumer groups changed membership, so the broker can tell their members to rebalance
 * (NOTIFY_CONSUMER_IDS_CHANGED).
 *
 * A consumer group's member is its client id and the instance token its heartbeats carry (drawn once per client,
 * so two processes configured with one client id differ). Two members with one client id would compute the
 * same share and read the same queues, so a heartbeat whose client id is live in a group under another token
 * is refused (CLIENT_ID_CONFLICT) and changes nothing; the id is free again once its holder unregisters or
 * expires. An unregistration that names a token removes the member only when the token is the member's.
 */

export type MessageModel = 'CLUSTERING' | 'BROADCASTING';

export interface ConsumerGroupInfo {
  messageModel: MessageModel;
  /** topic -> tag expression, as the latest heartbeat of any member gave it. */
  subscriptions: Record<string, string>;
  /** clientId -> last heartbeat time. */
  clients: Map<string, number>;
  /** clientId -> the instance token of the client that holds the id ('' for a client that sends none). */
  instances: Map<string, string>;
}

export interface ProducerGroupInfo {
  clients: Map<string, number>;
}

export const DEFAULT_CLIENT_EXPIRY_MS = 120_000;
/** Bounds against a flood of client ids or groups. */
export const MAX_CLIENTS_PER_GROUP = 10_000;
export const MAX_GROUPS = 10_000;
/** Longest instance token a heartbeat may carry. */
export const MAX_INSTANCE_LENGTH = 128;

/** The refusal of a heartbeat whose client id another live client of `group` holds. */
export function clientIdConflict(clientId: string, group: string): StatusError {
  return new StatusError(
    Status.CLIENT_ID_CONFLICT,
    `client id "${clientId}" is already used in consumer group ${group} by another live client (another process); ` +
      'give each consumer its own clientId. The id is free again once that client stops or the broker expires it',
  );
}

/** Checks a heartbeat body from the wire; returns it or throws BAD_FRAME/INVALID_ARGUMENT. */
export function validateHeartbeat(body: unknown): HeartbeatBody {
  if (body === null || typeof body !== 'object') throw new StatusError(Status.BAD_FRAME, 'heartbeat body must be an object');
  const b = body as Partial<HeartbeatBody>;
  const producerGroups = b.producerGroups ?? [];
  const consumers = b.consumers ?? [];
  if (!Array.isArray(producerGroups) || !Array.isArray(consumers)) throw new StatusError(Status.BAD_FRAME, 'heartbeat producerGroups and consumers must be arrays');
  for (const g of producerGroups) {
    const p = groupProblem(g);
    if (p) throw new StatusError(Status.INVALID_ARGUMENT, p);
  }
  for (const c of consumers) {
    if (c === null || typeof c !== 'object') throw new StatusError(Status.BAD_FRAME, 'heartbeat consumer entry must be an object');
    const p = groupProblem(c.group);
    if (p) throw new StatusError(Status.INVALID_ARGUMENT, p);
    if (c.messageModel !== 'CLUSTERING' && c.messageModel !== 'BROADCASTING')
      throw new StatusError(Status.INVALID_ARGUMENT, `messageModel must be CLUSTERING or BROADCASTING, got ${String(c.messageModel)}`);
    if (c.subscriptions === null || typeof c.subscriptions !== 'object') throw new StatusError(Status.BAD_FRAME, 'subscriptions must be an object');
    for (const v of Object.values(c.subscriptions)) if (typeof v !== 'string') throw new StatusError(Status.BAD_FRAME, 'a subscription expression must be a string');
  }
  return { producerGroups, consumers };
}

export class ClientRegistry {
  private readonly consumers = new Map<string, ConsumerGroupInfo>();
  private readonly producers = new Map<string, ProducerGroupInfo>();

  /**
   * Records a heartbeat from `instance` (the client's instance token); returns the consumer groups this client
   * joined (their membership changed). Throws CLIENT_ID_CONFLICT, recording nothing, when another instance holds
   * the client id in one of the consumer groups.
   */
  heartbeat(clientId: string, body: HeartbeatBody, now: number, instance = ''): string[] {
    for (const c of body.consumers) {
      const holder = this.consumers.get(c.group)?.instances.get(clientId);
      if (holder !== undefined && holder !== instance) throw clientIdConflict(clientId, c.group);
    }
    const changed: string[] = [];
    for (const g of body.producerGroups) {
      let info = this.producers.get(g);
      if (!info) {
        this.checkGroupBound();
        this.producers.set(g, (info = { clients: new Map() }));
      }
      if (!info.clients.has(clientId) && info.clients.size >= MAX_CLIENTS_PER_GROUP)
        throw new StatusError(Status.SYSTEM_BUSY, `producer group ${g} has ${MAX_CLIENTS_PER_GROUP} clients already`);
      info.clients.set(clientId, now);
    }
    for (const c of body.consumers) {
      let info = this.consumers.get(c.group);
      if (!info) {
        this.checkGroupBound();
        this.consumers.set(c.group, (info = { messageModel: c.messageModel, subscriptions: {}, clients: new Map(), instances: new Map() }));
      }
      if (!info.clients.has(clientId)) {
        if (info.clients.size >= MAX_CLIENTS_PER_GROUP) throw new StatusError(Status.SYSTEM_BUSY, `consumer group ${c.group} has ${MAX_CLIENTS_PER_GROUP} clients already`);
        changed.push(c.group);
      }
      info.clients.set(clientId, now);
      info.instances.set(clientId, instance);
      info.messageModel = c.messageModel;
      info.subscriptions = { ...c.subscriptions };
    }
    return changed.sort();
  }

  private checkGroupBound(): void {
    if (this.consumers.size + this.producers.size >= MAX_GROUPS) throw new StatusError(Status.SYSTEM_BUSY, `the broker tracks ${MAX_GROUPS} groups already`);
  }

  /**
   * Removes a client from the named groups (or from every group when none is named); returns the consumer
   * groups whose membership changed. With `instance`, a consumer group's member goes only when it is that
   * instance (a client refused for a taken id does not remove the holder).
   */
  unregister(clientId: string, groups: { producerGroup?: string; consumerGroup?: string } = {}, instance?: string): string[] {
    const all = groups.producerGroup === undefined && groups.consumerGroup === undefined;
    for (const [g, info] of this.producers) {
      if ((all || g === groups.producerGroup) && info.clients.delete(clientId) && info.clients.size === 0) this.producers.delete(g);
    }
    const changed: string[] = [];
    for (const [g, info] of this.consumers) {
      if (!all && g !== groups.consumerGroup) continue;
      if (instance !== undefined && info.instances.has(clientId) && info.instances.get(clientId) !== instance) continue;
      info.instances.delete(clientId);
      if (info.clients.delete(clientId)) {
        changed.push(g);
        if (info.clients.size === 0) this.consumers.delete(g);
      }
    }
    return changed.sort();
  }

  /** Drops clients silent for `expiryMs` or more; returns them and the consumer groups that changed. */
  scan(now: number, expiryMs: number): { expired: string[]; changedGroups: string[] } {
    const expired = new Set<string>();
    const changed = new Set<string>();
    for (const [g, info] of this.producers) {
      for (const [id, last] of info.clients) if (now - last >= expiryMs) { info.clients.delete(id); expired.add(id); }
      if (info.clients.size === 0) this.producers.delete(g);
    }
    for (const [g, info] of this.consumers) {
      for (const [id, last] of info.clients) {
        if (now - last >= expiryMs) {
          info.clients.delete(id);
          info.instances.delete(id);
          expired.add(id);
          changed.add(g);
        }
      }
      if (info.clients.size === 0) this.consumers.delete(g);
    }
    return { expired: [...expired].sort(), changedGroups: [...changed].sort() };
  }

  /** Client ids of a consumer group, sorted ([] for an unknown group). */
  consumerIds(group: string): string[] {
    return [...(this.consumers.get(group)?.clients.keys() ?? [])].sort();
  }

  consumerGroup(group: string): Readonly<ConsumerGroupInfo> | undefined {
    return this.consumers.get(group);
  }

  consumerGroups(): string[] {
    return [...this.consumers.keys()].sort();
  }

  producerGroups(): string[] {
    return [...this.producers.keys()].sort();
  }

  producerIds(group: string): string[] {
    return [...(this.producers.get(group)?.clients.keys() ?? [])].sort();
  }
}
