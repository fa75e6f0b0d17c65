import type { Frame } from '../../../transports/frame.js';
import { clientAddress, type ConsumerListBody } from '../../protocol/commands.js';
import { RequestCode } from '../../protocol/request-codes.js';
import { headerString, jsonBody, okReply, oneWay, parseJsonBody } from '../../protocol/replies.js';
import { retryTopic } from '../../protocol/retry-delay.js';
import { Status, StatusError } from '../../../core/status.js';
import { MAX_INSTANCE_LENGTH, validateHeartbeat } from '../client-registry.js';
import type { BrokerContext } from './context.js';

/** Heartbeats, unregistration, consumer lists, and the notices that make a group rebalance. */

/** Tells every member of each changed consumer group that the group's members changed (one-way). */
export function notifyGroupsChanged(ctx: BrokerContext, groups: readonly string[]): void {
  for (const group of groups) {
    for (const id of ctx.clients.consumerIds(group)) {
      try {
        ctx.send(clientAddress(id), oneWay(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, { consumerGroup: group }));
      } catch (err) {
        ctx.logger.warn({ err, group, clientId: id }, 'could not notify a consumer');
      }
    }
  }
}

/** The optional `instance` header: the token that tells one client from another with the same client id. */
function instanceOf(frame: Frame): string | undefined {
  const v = frame.header.instance;
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > MAX_INSTANCE_LENGTH) throw new StatusError(Status.INVALID_ARGUMENT, `header "instance" must be a string of at most ${MAX_INSTANCE_LENGTH} characters`);
  return v;
}

export async function handleHeartbeat(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const clientId = headerString(frame, 'clientId');
  const instance = instanceOf(frame) ?? '';
  const body = validateHeartbeat(parseJsonBody(frame));
  let changed: string[];
  try {
    changed = ctx.clients.heartbeat(clientId, body, ctx.clock.now(), instance);
  } catch (err) {
    if (err instanceof StatusError && err.status === Status.CLIENT_ID_CONFLICT) ctx.logger.warn({ clientId, groups: body.consumers.map((c) => c.group) }, 'heartbeat refused: its client id is held by another live client');
    throw err;
  }
  // a clustering group gets its retry topic here, so its members can subscribe to it (as RocketMQ does)
  let created = false;
  for (const c of body.consumers) {
    if (c.messageModel === 'CLUSTERING') created = ctx.topics.createSystem(retryTopic(c.group), 1, ctx.clock.now()).created || created;
  }
  if (created) await ctx.topicsChanged();
  notifyGroupsChanged(ctx, changed);
  return okReply(frame);
}

export async function handleUnregisterClient(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const clientId = headerString(frame, 'clientId');
  const pg = frame.header.producerGroup;
  const cg = frame.header.consumerGroup;
  const changed = ctx.clients.unregister(
    clientId,
    {
      ...(typeof pg === 'string' && pg !== '' ? { producerGroup: pg } : {}),
      ...(typeof cg === 'string' && cg !== '' ? { consumerGroup: cg } : {}),
    },
    instanceOf(frame),
  );
  notifyGroupsChanged(ctx, changed);
  return okReply(frame);
}

export async function handleConsumerList(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const group = headerString(frame, 'consumerGroup');
  const body: ConsumerListBody = { clientIds: ctx.clients.consumerIds(group) };
  return okReply(frame, {}, jsonBody(body));
}
