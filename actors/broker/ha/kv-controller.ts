/**
 * The controller without a controller process: each broker group's state (GroupState, as JSON) is one entry of a
 * key-value bucket (on NATS a JetStream KV bucket, whose stream's Raft, with replicas 3 on a cluster, is then the
 * controller's consensus), and every broker applies the rules of actors/protocol/ha-controller.ts to it itself.
 *
 * Each call reads the entry, applies the rule and writes the result by compare-and-set: `update` over the revision
 * it read, or `create` when the entry is absent. A write that loses (KvConflictError: another broker wrote in
 * between) reads again and applies the rule again, at once, up to `maxAttempts` times (default 8); then the call
 * fails with KvControllerError. So every state the entry takes is a rule applied to the state before it, as with a
 * controller actor. A refused in-sync change writes nothing; a heartbeat always writes (its broker's lastSeen).
 *
 * Time: `now` is this broker's own clock, read afresh for each attempt. Leases, lastSeen and election times in the
 * entry therefore come from different brokers' clocks; the rules' `maxClockSkewMs` (an election waits that long past
 * a lease) is what covers the differences between them, so the brokers' clocks must agree within it. A master
 * itself acts as master only until its own heartbeat's send time plus leaseMs (ha-controller.ts), which is never
 * later than the lease written here.
 *
 * The key of a group is `group.` plus its broker name, with every character outside `[A-Za-z0-9_-]` written as
 * `=` and two hex digits per UTF-8 byte (broker names are `[A-Za-z0-9_-]`, so normally unchanged).
 */
import type { Clock } from '../../../core/clock.js';
import { KvConflictError, type KvBucket } from '../../../transports/transport.js';
import { emptyGroup, onAlterSyncState, onHeartbeat, type ControllerSettings, type GroupState } from '../../protocol/ha-controller.js';
import type { ControllerPort } from './controller-port.js';

export interface KvControllerOptions {
  /** Reads and writes per call before giving up on conflicts (default 8). */
  maxAttempts?: number;
}

/** A controller call that could not be done: too many conflicting writes, or an entry that is not a group state. */
export class KvControllerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = 'KvControllerError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

export const DEFAULT_KV_MAX_ATTEMPTS = 8;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** The KV key of a broker group. */
export function groupKey(brokerName: string): string {
  if (brokerName.length === 0) throw new KvControllerError('a broker name must not be empty');
  let out = 'group.';
  for (const ch of brokerName) {
    if (/^[A-Za-z0-9_-]$/.test(ch)) out += ch;
    else for (const b of utf8.encode(ch)) out += `=${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

export function kvController(bucket: KvBucket, clock: Clock, settings: ControllerSettings, opts: KvControllerOptions = {}): ControllerPort {
  const maxAttempts = opts.maxAttempts ?? DEFAULT_KV_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}`);

  const read = async (brokerName: string): Promise<{ state: GroupState; revision: number | undefined }> => {
    const key = groupKey(brokerName);
    const e = await bucket.get(key);
    if (e === undefined) return { state: emptyGroup(brokerName), revision: undefined };
    return { state: parseGroup(e.value, brokerName, `${bucket.name}/${key}`), revision: e.revision };
  };

  /**
   * Reads, applies `rule`, writes by compare-and-set when the rule changed something; again on a conflict.
   * Resolves with what the rule returned for the state it was finally applied to.
   */
  const change = async <T>(brokerName: string, what: string, rule: (s: GroupState, now: number) => { state: GroupState; write: boolean; out: T }): Promise<T> => {
    const key = groupKey(brokerName);
    let conflict: KvConflictError | undefined;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const { state, revision } = await read(brokerName);
      const r = rule(state, clock.now());
      if (!r.write) return r.out;
      const value = utf8.encode(JSON.stringify(r.state));
      try {
        if (revision === undefined) await bucket.create(key, value);
        else await bucket.update(key, value, revision);
        return r.out;
      } catch (err) {
        if (!(err instanceof KvConflictError)) throw err;
        conflict = err;
      }
    }
    throw new KvControllerError(
      `${what} of broker group ${brokerName}: gave up after ${maxAttempts} attempts, each lost to another broker's write of KV entry ${bucket.name}/${key}; too many brokers write it at once, retry later`,
      { cause: conflict },
    );
  };

  return {
    heartbeat: (r) =>
      change(r.brokerName, 'heartbeat', (s, now) => {
        const h = onHeartbeat(s, r, now, settings);
        return { state: h.state, write: true, out: h.answer };
      }),
    alterSyncState: (q) =>
      change(q.brokerName, 'in-sync set change', (s) => {
        const a = onAlterSyncState(s, q);
        const out = { ok: a.ok, ...(a.reason !== undefined ? { reason: a.reason } : {}), syncEpoch: a.state.syncEpoch, inSync: [...a.state.inSync] };
        return { state: a.state, write: a.ok, out };
      }),
    group: async (brokerName) => (await read(brokerName)).state,
  };
}

/** The entry's value as a group state; KvControllerError when it is not one (of this group). */
function parseGroup(value: Uint8Array, brokerName: string, where: string): GroupState {
  let v: unknown;
  try {
    v = JSON.parse(fromUtf8.decode(value));
  } catch (err) {
    throw new KvControllerError(`KV entry ${where} is not JSON, so not a broker group's state: find what else writes to this bucket (removing the entry would reset the group's epochs)`, { cause: err });
  }
  const g = v as Partial<GroupState> | null;
  const ok =
    g !== null &&
    typeof g === 'object' &&
    g.brokerName === brokerName &&
    Number.isSafeInteger(g.epoch) &&
    (g.masterId === null || Number.isSafeInteger(g.masterId)) &&
    (g.masterAddress === null || typeof g.masterAddress === 'string') &&
    typeof g.leaseUntil === 'number' &&
    Array.isArray(g.inSync) &&
    g.inSync.every((x) => Number.isSafeInteger(x)) &&
    Number.isSafeInteger(g.syncEpoch) &&
    typeof g.brokers === 'object' &&
    g.brokers !== null;
  if (!ok) throw new KvControllerError(`KV entry ${where} is not the state of broker group ${brokerName}: find what else writes to this bucket (removing the entry would reset the group's epochs)`);
  return g as GroupState;
}
