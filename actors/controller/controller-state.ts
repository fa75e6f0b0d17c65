import type { StorageBackend } from '../../store/backend.js';
import { readJsonFileAs, shape, ShapeMismatch, writeJsonAtomic, type Shape } from '../../store/config-file.js';
import { emptyGroup, type GroupState } from '../protocol/ha-controller.js';

/**
 * What a controller keeps on disk, per broker group: the epoch, the master and the in-sync set with its version.
 * Brokers' liveness and the lease are not kept: a controller that starts again counts every lease as renewed
 * at its start (it elects no one before a whole lease has passed), so a master that still holds its lease is
 * never doubled by a restart, and epochs never go back (apache/rocketmq#7689: a controller that lost its state
 * with the master handed out an epoch again).
 */

interface DurableGroup {
  brokerName: string;
  epoch: number;
  masterId: number | null;
  masterAddress: string | null;
  inSync: number[];
  syncEpoch: number;
  /** Each broker's process token as last heard: a master heard from another after a restart of both restarted too. */
  sessions?: Record<string, string>;
}

const nullableInt: Shape<number | null> = (v, field) => (v === null ? null : shape.int(0)(v, field));
const nullableString: Shape<string | null> = (v, field) => {
  if (v === null || typeof v === 'string') return v;
  throw new ShapeMismatch(field, 'a string or null', v);
};
const fileShape: Shape<{ groups: DurableGroup[] }> = shape.fields<{ groups: DurableGroup[] }>({
  groups: shape.array(
    shape.fields<DurableGroup>({
      brokerName: (v, field) => {
        if (typeof v !== 'string' || v.length === 0) throw new ShapeMismatch(field, 'a broker name', v);
        return v;
      },
      epoch: shape.int(0),
      masterId: nullableInt,
      masterAddress: nullableString,
      inSync: shape.array(shape.int(0)),
      syncEpoch: shape.int(0),
      sessions: (v, field) => (v === undefined ? undefined : shape.record(/^\d+$/, 'a broker id', (x, f) => {
        if (typeof x !== 'string') throw new ShapeMismatch(f, 'a session token', x);
        return x;
      })(v, field)),
    }),
  ),
});

export function controllerStatePath(dir: string): string {
  return `${dir}/controller.json`;
}

/** The groups as kept, each lease counted from `now` (see above). */
export function loadControllerState(storage: StorageBackend, dir: string, now: number, leaseMs: number): Map<string, GroupState> {
  const f = readJsonFileAs(storage, controllerStatePath(dir), fileShape);
  const out = new Map<string, GroupState>();
  for (const g of f?.groups ?? []) {
    const { sessions, ...rest } = g;
    // brokers are heard again before they count as alive; their process tokens are kept
    const brokers: GroupState['brokers'] = {};
    for (const [id, session] of Object.entries(sessions ?? {})) brokers[id] = { address: '', lastSeen: Number.MIN_SAFE_INTEGER, writeOffset: 0, epoch: 0, session };
    out.set(g.brokerName, { ...emptyGroup(g.brokerName), ...rest, brokers, leaseUntil: g.masterId === null ? 0 : now + leaseMs });
  }
  return out;
}

/** The part of a group that is kept, as a key: a change of it is written before the controller answers. */
export function durableKey(g: GroupState): string {
  return JSON.stringify([g.epoch, g.masterId, g.masterAddress, g.inSync, g.syncEpoch, sessionsOf(g)]);
}

function sessionsOf(g: GroupState): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, b] of Object.entries(g.brokers)) if (b.session !== undefined) out[id] = b.session;
  return out;
}

export function saveControllerState(storage: StorageBackend, dir: string, groups: Iterable<GroupState>): Promise<void> {
  const list: DurableGroup[] = [...groups]
    .sort((a, b) => (a.brokerName < b.brokerName ? -1 : 1))
    .map((g) => ({ brokerName: g.brokerName, epoch: g.epoch, masterId: g.masterId, masterAddress: g.masterAddress, inSync: g.inSync, syncEpoch: g.syncEpoch, sessions: sessionsOf(g) }));
  storage.mkdir(dir);
  return writeJsonAtomic(storage, controllerStatePath(dir), { groups: list });
}
