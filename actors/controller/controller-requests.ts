import type { Frame } from '../../transports/frame.js';
import { Status, StatusError } from '../../core/status.js';
import { RequestCode, requestCodeName } from '../protocol/request-codes.js';
import { errorReply, headerInt, headerString, jsonBody, okReply, parseJsonBody } from '../protocol/replies.js';
import { emptyGroup, onAlterSyncState, onHeartbeat, type AlterSyncRequest, type ControllerSettings, type GroupState } from '../protocol/ha-controller.js';

/**
 * The controller's requests as a pure function: (groups, frame, now) -> (groups, reply). CONTROLLER_HEARTBEAT
 * (header HeartbeatReport; reply body HeartbeatAnswer), CONTROLLER_ALTER_SYNC_STATE (body AlterSyncRequest;
 * reply body { ok, reason?, syncEpoch }), CONTROLLER_GET_GROUP (header brokerName; reply body GroupState).
 */

export interface ControllerResult {
  groups: ReadonlyMap<string, GroupState>;
  reply: Frame;
  /** The group whose state changed, if one did. */
  changed?: GroupState;
  /** Set when a heartbeat elected a master: its broker id. */
  elected?: number;
}

function withGroup(groups: ReadonlyMap<string, GroupState>, g: GroupState): Map<string, GroupState> {
  const out = new Map(groups);
  out.set(g.brokerName, g);
  return out;
}

export function handleControllerRequest(groups: ReadonlyMap<string, GroupState>, frame: Frame, now: number, cfg: ControllerSettings): ControllerResult {
  try {
    switch (frame.code) {
      case RequestCode.CONTROLLER_HEARTBEAT: {
        const brokerName = headerString(frame, 'brokerName');
        const report = {
          brokerName,
          brokerId: headerInt(frame, 'brokerId'),
          address: headerString(frame, 'address'),
          epoch: headerInt(frame, 'epoch'),
          writeOffset: headerInt(frame, 'writeOffset'),
          ...(typeof frame.header.session === 'string' ? { session: frame.header.session } : {}),
        };
        if (report.brokerId < 0 || report.epoch < 0 || report.writeOffset < 0) throw new StatusError(Status.BAD_FRAME, 'brokerId, epoch and writeOffset must not be negative');
        const r = onHeartbeat(groups.get(brokerName) ?? emptyGroup(brokerName), report, now, cfg);
        const out: ControllerResult = { groups: withGroup(groups, r.state), reply: okReply(frame, {}, jsonBody(r.answer)), changed: r.state };
        if (r.elected !== undefined) out.elected = r.elected;
        return out;
      }
      case RequestCode.CONTROLLER_ALTER_SYNC_STATE: {
        const q = parseJsonBody<AlterSyncRequest>(frame);
        if (typeof q?.brokerName !== 'string' || !Array.isArray(q.inSync) || !q.inSync.every((x) => Number.isSafeInteger(x) && x >= 0)) {
          throw new StatusError(Status.BAD_FRAME, 'body must be { brokerName, masterId, epoch, syncEpoch, inSync: [ids] }');
        }
        const g = groups.get(q.brokerName) ?? emptyGroup(q.brokerName);
        const r = onAlterSyncState(g, q);
        const reply = okReply(frame, {}, jsonBody({ ok: r.ok, ...(r.reason !== undefined ? { reason: r.reason } : {}), syncEpoch: r.state.syncEpoch, inSync: r.state.inSync }));
        return r.ok ? { groups: withGroup(groups, r.state), reply, changed: r.state } : { groups, reply };
      }
      case RequestCode.CONTROLLER_GET_GROUP: {
        const brokerName = headerString(frame, 'brokerName');
        return { groups, reply: okReply(frame, {}, jsonBody(groups.get(brokerName) ?? emptyGroup(brokerName))) };
      }
      default:
        throw new StatusError(Status.REQUEST_CODE_NOT_SUPPORTED, `the controller does not serve ${requestCodeName(frame.code)}`);
    }
  } catch (err) {
    if (err instanceof StatusError) return { groups, reply: errorReply(frame, err.status, err.message) };
    return { groups, reply: errorReply(frame, Status.SYSTEM_ERROR, err instanceof Error ? err.message : String(err)) };
  }
}
