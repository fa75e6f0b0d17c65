/**
 * Checks of what each message's deliveries must be: acknowledged messages reach every group of their topic
 * (`lost`, unless dead-lettered) in time after the drain (`liveness`); nothing is delivered that nobody sent
 * (`unexpected`), before its `notBefore` (`delay`), nor from a transaction that rolled back or before its
 * commit began (`transactions`).
 */
import { place, type CheckContext } from './context.js';
import { ackTime, isAcked, type Delivery, type MessageRecord } from './model.js';

export interface ReachCounts {
  lost: number;
  late: number;
  deadLettered: number;
  lostUnflushed: number;
}

/** `lost` and `liveness`: every acknowledged message to each group of its topic, first delivered in time. */
export function checkReach(ctx: CheckContext): ReachCounts {
  const counts: ReachCounts = { lost: 0, late: 0, deadLettered: 0, lostUnflushed: 0 };
  const { drain } = ctx.model;
  for (const m of ctx.model.messages.values()) {
    if (!isAcked(m) || ctx.model.destroyed.has(m.id)) continue;
    for (const group of ctx.opts.groups[m.topic] ?? []) {
      const ds = ctx.byGroup.get(group)?.get(m.id) ?? [];
      const first = ds.find((d) => d.result === 'SUCCESS');
      if (!first) {
        if (ds.length >= ctx.opts.maxReconsumeTimes + 1) counts.deadLettered++;
        else if (ds.length === 0 && unflushedAtPowerLoss(ctx, m)) counts.lostUnflushed++;
        else {
          counts.lost++;
          reportLost(ctx, m, group, ds);
        }
        continue;
      }
      // a message its listener asked to retry comes back after the retry delays: late by design
      if (!drain || ds[0] !== first) continue;
      const deadline = Math.max(drain.time, m.notBefore ?? -Infinity) + ctx.opts.drainMs;
      if (first.time > deadline) {
        counts.late++;
        ctx.reporter.report(
          'liveness',
          `${m.id} (topic ${m.topic}) first delivered to group ${group} at ${first.time} ms (op ${first.op}, ${place(first)}), after the deadline ${deadline} ms (drain at ${drain.time} ms + ${ctx.opts.drainMs} ms)`,
          [m.id],
          [drain.op, first.op],
        );
      }
    }
  }
  return counts;
}

/**
 * Acknowledged by an async-flush broker within its unflushed window before a power loss of it (of its master
 * process, for a group with slaves); when the master's SEND_OK meant its slaves held the message too (a sync
 * master), each of them must also have lost power within its own unflushed window.
 */
function unflushedAtPowerLoss(ctx: CheckContext, m: MessageRecord): boolean {
  if (m.tx || m.okBroker === undefined || m.okTime === undefined) return false;
  const window = ctx.opts.unflushedWindowMs[m.okBroker];
  if (window === undefined) return false;
  const okTime = m.okTime;
  const lostWithin = (process: string, ms: number): boolean => (ctx.model.powerLosses.get(process) ?? []).some((t) => t >= okTime && t - okTime <= ms);
  const group = ctx.opts.brokerGroups[m.okBroker];
  if (group === undefined) return lostWithin(m.okBroker, window);
  if (group.master === undefined || !lostWithin(group.master, window)) return false;
  return (group.replicas ?? []).every((r) => r.windowMs !== undefined && lostWithin(r.process, r.windowMs));
}

function reportLost(ctx: CheckContext, m: MessageRecord, group: string, retries: readonly Delivery[]): void {
  const acked = m.tx ? `committed at ${ackTime(m)} ms (op ${m.txCommit?.op})` : `acknowledged at ${ackTime(m)} ms (op ${m.okOp})`;
  const why = retries.length > 0 ? `: ${retries.length} RETRY deliveries, fewer than ${ctx.opts.maxReconsumeTimes + 1} for the dead-letter queue` : '';
  const ackOp = m.tx ? m.txCommit!.op : m.okOp!;
  ctx.reporter.report('lost', `${m.id} (topic ${m.topic}) ${acked} was never delivered with SUCCESS to group ${group}${why}`, [m.id], [ackOp, ...retries.map((d) => d.op)]);
}

/** `unexpected`, `delay` and `transactions`: each delivery (any result) against what its sends and tx-end say. */
export function checkDeliveries(ctx: CheckContext): void {
  const reported = new Set<string>();
  const once = (kind: string, d: Delivery): boolean => {
    const k = `${kind}\u0000${d.group}\u0000${d.id}`;
    if (reported.has(k)) return false;
    reported.add(k);
    return true;
  };
  for (const d of ctx.model.deliveries) {
    const m = ctx.model.messages.get(d.id);
    if (!m) {
      if (once('unexpected', d)) {
        ctx.reporter.report('unexpected', `${d.id} delivered to group ${d.group} by ${d.consumer} at ${d.time} ms (op ${d.op}, ${place(d)}) was never sent`, [d.id], [d.op]);
      }
      continue;
    }
    if (m.notBefore !== undefined && d.time < m.notBefore - ctx.opts.skewMs) {
      ctx.reporter.report(
        'delay',
        `${d.id} delivered to group ${d.group} at ${d.time} ms (op ${d.op}, ${place(d)}), before its notBefore ${m.notBefore} ms (skew ${ctx.opts.skewMs} ms)`,
        [d.id],
        [m.firstInvoke, d.op],
      );
    }
    if (m.tx) checkTxDelivery(ctx, m, d, once);
  }
}

function checkTxDelivery(ctx: CheckContext, m: MessageRecord, d: Delivery, once: (kind: string, d: Delivery) => boolean): void {
  if (m.txCommit) {
    const from = m.txEndFrom ?? m.txCommit;
    if (d.op < from.op && once('early', d)) {
      ctx.reporter.report(
        'transactions',
        `half message ${d.id} delivered to group ${d.group} at ${d.time} ms (op ${d.op}, ${place(d)}), before its tx-end commit began at ${from.time} ms (op ${from.op})`,
        [d.id],
        [d.op, from.op],
      );
    }
  } else if (m.txRollback && once('rollback', d)) {
    ctx.reporter.report(
      'transactions',
      `${d.id} of a transaction rolled back at ${m.txRollback.time} ms (op ${m.txRollback.op}) delivered to group ${d.group} at ${d.time} ms (op ${d.op}, ${place(d)})`,
      [d.id],
      [m.txRollback.op, d.op],
    );
  }
}
