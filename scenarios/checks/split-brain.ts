/**
 * The `split-brain` check, for broker groups under an HA controller, whose SEND_OKs carry the master epoch they
 * were answered in (the send's `epoch`, and the broker that stored it, `address`):
 *
 * - fencing: an acknowledged send of epoch e invoked later than `maxClockSkewMs` after an acknowledged send of a
 *   higher epoch e' completed. The newer master answered that one, so the controller had elected it, so the old
 *   master's lease had run out (on the old master's clock, up to the skew): the old master acknowledged a write
 *   it received after it had to stop.
 * - one master per epoch: two different brokers acknowledged sends of the same epoch.
 * - epochs go back: a member reports an epoch after the drain below one its group acknowledged in.
 * - flapping: more master epochs than the scenario allows (`maxElections`), by the highest epoch a send carried or
 *   a member reported after the drain.
 *
 * A history without epochs (no controller) has nothing to check here.
 */
import type { CheckContext } from './context.js';
import type { EpochAck } from './model.js';

export interface SplitBrainCounts {
  /** Acknowledged sends an old master answered after a newer one had, plus epochs two brokers acknowledged in. */
  splitBrain: number;
  /** Distinct (group, epoch) pairs in which something was acknowledged. */
  epochsAcked: number;
}

export function checkSplitBrain(ctx: CheckContext): SplitBrainCounts {
  const counts: SplitBrainCounts = { splitBrain: 0, epochsAcked: 0 };
  const byGroup = new Map<string, EpochAck[]>();
  for (const a of ctx.model.epochAcks) {
    let list = byGroup.get(a.group);
    if (!list) byGroup.set(a.group, (list = []));
    list.push(a);
  }
  for (const [group, acks] of byGroup) {
    const skew = ctx.opts.brokerGroups[group]?.maxClockSkewMs ?? 0;
    const epochs = [...new Set(acks.map((a) => a.epoch))].sort((x, y) => x - y);
    counts.epochsAcked += epochs.length;

    // the earliest acknowledgement of each epoch, and of any epoch above each
    const first = new Map<number, EpochAck>();
    for (const a of acks) {
      const f = first.get(a.epoch);
      if (f === undefined || a.time < f.time) first.set(a.epoch, a);
    }
    const firstAbove = new Map<number, EpochAck>();
    let best: EpochAck | undefined;
    for (let i = epochs.length - 1; i >= 0; i--) {
      const e = epochs[i]!;
      if (best !== undefined) firstAbove.set(e, best);
      const f = first.get(e)!;
      if (best === undefined || f.time < best.time) best = f;
    }
    for (const a of acks) {
      const newer = firstAbove.get(a.epoch);
      if (newer === undefined || a.invokeTime <= newer.time + skew) continue;
      counts.splitBrain++;
      ctx.reporter.report(
        'split-brain',
        `group ${group}: ${a.address ?? 'a broker'} acknowledged ${a.ids.join(', ')} in epoch ${a.epoch} (send of ${a.process} invoked at ${a.invokeTime} ms, op ${a.invokeOp}, answered at ${a.time} ms, op ${a.op}) after ${newer.address ?? 'a broker'} had acknowledged ${newer.ids[0] ?? '?'} in the newer epoch ${newer.epoch} at ${newer.time} ms (op ${newer.op}; max clock skew ${skew} ms): the old master was not fenced`,
        a.ids,
        [newer.op, a.op],
      );
    }

    const brokers = new Map<number, Map<string, EpochAck>>();
    for (const a of acks) {
      if (a.address === undefined) continue;
      let m = brokers.get(a.epoch);
      if (!m) brokers.set(a.epoch, (m = new Map()));
      if (!m.has(a.address)) m.set(a.address, a);
    }
    for (const [epoch, m] of brokers) {
      if (m.size < 2) continue;
      counts.splitBrain++;
      const list = [...m.values()];
      ctx.reporter.report(
        'split-brain',
        `group ${group}: epoch ${epoch} was acknowledged by ${m.size} brokers: ${list.map((a) => `${a.address} (${a.ids[0] ?? '?'} at ${a.time} ms, op ${a.op})`).join(', ')}`,
        list.map((a) => a.ids[0] ?? '').filter((id) => id !== ''),
        list.map((a) => a.op),
      );
    }
  }
  checkElections(ctx);
  return counts;
}

/**
 * Epochs that went back: a member whose epoch after the drain is below one its group acknowledged in. Flapping:
 * a group whose highest master epoch (acknowledged, or reported after the drain) exceeds its bound.
 */
function checkElections(ctx: CheckContext): void {
  for (const r of ctx.model.replication) {
    if (r.epochs === undefined) continue;
    let acked: EpochAck | undefined;
    for (const a of ctx.model.epochAcks) if (a.group === r.group && (acked === undefined || a.epoch > acked.epoch)) acked = a;
    if (acked === undefined) continue;
    for (const [process, e] of Object.entries(r.epochs)) {
      if (e === null || e >= acked.epoch) continue;
      ctx.reporter.report('split-brain', `group ${r.group}: ${process} is in epoch ${e} after the drain (op ${r.op}), below epoch ${acked.epoch} that ${acked.address ?? 'a broker'} acknowledged ${acked.ids[0] ?? '?'} in (op ${acked.op}): an epoch went back`, [], [acked.op, r.op]);
    }
  }
  for (const [group, g] of Object.entries(ctx.opts.brokerGroups)) {
    if (g.maxElections === undefined) continue;
    let highest = 0;
    let op: number | undefined;
    for (const a of ctx.model.epochAcks) {
      if (a.group === group && a.epoch > highest) {
        highest = a.epoch;
        op = a.op;
      }
    }
    for (const r of ctx.model.replication) {
      if (r.group !== group || r.epochs === undefined) continue;
      for (const e of Object.values(r.epochs)) {
        if (e !== null && e > highest) {
          highest = e;
          op = r.op;
        }
      }
    }
    if (highest <= g.maxElections) continue;
    ctx.reporter.report(
      'split-brain',
      `group ${group}: master epoch ${highest} (op ${op ?? '?'}), more elections than the ${g.maxElections} the scenario allows: masters flapped`,
      [],
      op === undefined ? [] : [op],
    );
  }
}
