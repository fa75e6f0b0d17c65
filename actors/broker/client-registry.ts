import type { HeartbeatBody } from '../protocol/commands.js';
import { Status, StatusError } from '../../core/status.js';
import { groupProblem } from '../protocol/validation.js';

/**
 * Producers and consumers the broker knows from their heartbeats: per group, its clients and when each was
 * last heard from; per consumer group, its message model and subscriptions. Every change reports which
 * consumer groups changed membership, so the broker can tell their members to rebalance
 * (NOTIFY_CONSUMER_IDS_CHANGED).
 */

export type MessageModel = 'CLUSTERING' | 'BROADCASTING';

export interface ConsumerGroupInfo {
  messageModel: MessageModel;
  /** topic -> tag expression, as the latest heartbeat of any member gave it. */
  subscriptions: Record<string, string>;
  /** clientId -> last heartbeat time. */
  clients: Map<string, number>;
}

export interface ProducerGroupInfo {
  clients: Map<string, number>;
}

export const DEFAULT_CLIENT_EXPIRY_MS = 120_000;
/** Bounds against a flood of client ids or groups. */
export const MAX_CLIENTS_PER_GROUP = 10_000;
export const MAX_GROUPS = 10_000;

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

  /** Records a heartbeat; returns the consumer groups this client joined (their membership changed). */
  heartbeat(clientId: string, body: HeartbeatBody, now: number): string[] {
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
        this.consumers.set(c.group, (info = { messageModel: c.messageModel, subscriptions: {}, clients: new Map() }));
      }
      if (!info.clients.has(clientId)) {
        if (info.clients.size >= MAX_CLIENTS_PER_GROUP) throw new StatusError(Status.SYSTEM_BUSY, `consumer group ${c.group} has ${MAX_CLIENTS_PER_GROUP} clients already`);
        changed.push(c.group);
      }
      info.clients.set(clientId, now);
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
   * groups whose membership changed.
   */
  unregister(clientId: string, groups: { producerGroup?: string; consumerGroup?: string } = {}): string[] {
    const all = groups.producerGroup === undefined && groups.consumerGroup === undefined;
    for (const [g, info] of this.producers) {
      if ((all || g === groups.producerGroup) && info.clients.delete(clientId) && info.clients.size === 0) this.producers.delete(g);
    }
    const changed: string[] = [];
    for (const [g, info] of this.consumers) {
      if ((all || g === groups.consumerGroup) && info.clients.delete(clientId)) {
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
