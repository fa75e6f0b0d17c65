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
    out.set(g.brokerName, { ...emptyGroup(g.brokerName), ...g, leaseUntil: g.masterId === null ? 0 : now + leaseMs });
  }
  return out;
}

/** The part of a group that is kept, as a key: a change of it is written before the controller answers. */
export function durableKey(g: GroupState): string {
  return JSON.stringify([g.epoch, g.masterId, g.masterAddress, g.inSync, g.syncEpoch]);
}

export function saveControllerState(storage: StorageBackend, dir: string, groups: Iterable<GroupState>): Promise<void> {
  const list: DurableGroup[] = [...groups]
    .sort((a, b) => (a.brokerName < b.brokerName ? -1 : 1))
    .map((g) => ({ brokerName: g.brokerName, epoch: g.epoch, masterId: g.masterId, masterAddress: g.masterAddress, inSync: g.inSync, syncEpoch: g.syncEpoch }));
  storage.mkdir(dir);
  return writeJsonAtomic(storage, controllerStatePath(dir), { groups: list });
}
