import type { Frame } from '../../../transports/frame.js';
import { controllerAddress } from '../../protocol/commands.js';
import type { AlterSyncRequest, GroupState, HeartbeatAnswer, HeartbeatReport } from '../../protocol/ha-controller.js';
import { RequestCode } from '../../protocol/request-codes.js';
import { expectOk, jsonBody, parseJsonBody, request } from '../../protocol/replies.js';

/**
 * What a broker asks of its group's controller (ha-controller.ts holds the rules). Two implementations: requests
 * to controller actors (this file), and a JetStream KV entry the broker changes itself by compare-and-set
 * (kv-controller.ts).
 */
export interface ControllerPort {
  /** Reports the broker; answers who is master in which epoch, and renews the lease of the master. */
  heartbeat(r: HeartbeatReport): Promise<HeartbeatAnswer>;
  /** The master's change of the in-sync set; `ok` false (with why) when the controller refuses it. */
  alterSyncState(q: AlterSyncRequest): Promise<{ ok: boolean; reason?: string; syncEpoch: number; inSync: number[] }>;
  /** The group's state as the controller holds it. */
  group(brokerName: string): Promise<GroupState>;
}

/**
 * The controller actors at `controller.<id>` for each id given, asked in turn: one that does not answer is
 * skipped for the next (the first that answers wins).
 */
export function remoteController(request_: (to: string, frame: Frame, timeoutMs: number) => Promise<Frame>, ids: readonly string[], timeoutMs: number): ControllerPort {
  if (ids.length === 0) throw new Error('no controller ids given');
  let at = 0;
  const ask = async (frame: Frame, what: string): Promise<Frame> => {
    let last: unknown;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[(at + i) % ids.length]!;
      try {
        const reply = expectOk(await request_(controllerAddress(id), frame, timeoutMs), `${what} (controller ${id})`);
        at = (at + i) % ids.length;
        return reply;
      } catch (err) {
        last = err;
      }
    }
    throw last;
  };
  return {
    heartbeat: async (r) => parseJsonBody<HeartbeatAnswer>(await ask(request(RequestCode.CONTROLLER_HEARTBEAT, { ...r }), 'controller heartbeat')),
    alterSyncState: async (q) => parseJsonBody(await ask(request(RequestCode.CONTROLLER_ALTER_SYNC_STATE, {}, jsonBody(q)), 'in-sync set change')),
    group: async (name) => parseJsonBody<GroupState>(await ask(request(RequestCode.CONTROLLER_GET_GROUP, { brokerName: name }), 'controller group state')),
  };
}
