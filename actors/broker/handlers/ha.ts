import { StatusError, Status } from '../../../core/status.js';
import { headerInt, headerString, jsonBody, okReply, parseJsonBody } from '../../protocol/replies.js';
import type { SlaveConfigReport } from '../ha/config-sync.js';
import { masterOf } from '../ha/ha-runtime.js';
import { replicaReply } from '../ha/ha-master.js';
import type { Handler } from './context.js';

/** Replication requests: a slave's HA_PULL and HA_SYNC_CONFIG, and GET_BROKER_HA_STATUS (ha/ for the parts). */

export const handleHaPull: Handler = async (ctx, frame, reply) => masterOf(ctx.ha, frame, ctx.address).handlePull(frame, reply);

export const handleHaSyncConfig: Handler = async (ctx, frame) => {
  masterOf(ctx.ha, frame, ctx.address);
  return okReply(frame, {}, jsonBody(ctx.ha!.serveConfig(parseJsonBody<SlaveConfigReport>(frame))));
};

export const handleHaStatus: Handler = async (ctx, frame) => {
  if (ctx.ha === undefined) throw new StatusError(Status.SERVICE_NOT_AVAILABLE, `broker ${ctx.address} does not replicate`);
  return okReply(frame, {}, jsonBody(ctx.ha.status()));
};

export const handleHaEpochs: Handler = async (ctx, frame) => {
  if (ctx.ha === undefined) throw new StatusError(Status.SERVICE_NOT_AVAILABLE, `broker ${ctx.address} does not replicate`);
  return okReply(frame, {}, jsonBody(ctx.ha.epochsReply()));
};

/** HA_READ_TAIL: records of this broker's log from `offset` (a fixed master taking back a tail it lost). */
export const handleHaReadTail: Handler = async (ctx, frame) => {
  const repl = ctx.store.replication;
  if (repl === undefined) throw new StatusError(Status.SERVICE_NOT_AVAILABLE, `broker ${ctx.address} does not replicate`);
  const name = headerString(frame, 'brokerName');
  if (name !== ctx.brokerName) throw new StatusError(Status.INVALID_ARGUMENT, `broker ${ctx.address} belongs to ${ctx.brokerName}, not ${name}`);
  const offset = headerInt(frame, 'offset');
  const maxBytes = Math.max(1, Math.min(headerInt(frame, 'maxBytes'), ctx.maxPayload() - 4096));
  const pos = repl.positions();
  return replicaReply(frame, offset, repl.readReplica(offset, maxBytes), pos);
};
