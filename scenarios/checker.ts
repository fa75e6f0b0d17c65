/**
 * The checker of scenario histories (Jepsen style): pure functions from a history (`scenarios/history.ts`) and
 * what the scenario promised (groups per topic, ordered topics, the liveness deadline) to a verdict: counts, and
 * the violations of each check, at most 20 per check.
 *
 * - lost: an acknowledged message never delivered with SUCCESS to a group of its topic (unless dead-lettered).
 * - unexpected: a delivery of an id no send invoked.
 * - duplicated: a second SUCCESS delivery to one group with no retry, ambiguous send or nemesis op to explain
 *   it; or more explained duplicates than `maxDuplicates`.
 * - order: a keyed message of an ordered topic delivered before an acknowledged lower seq of its producer and
 *   key, or an unexplained rewind.
 * - delay: a delivery before `notBefore - skewMs`.
 * - transactions: a rolled back message delivered, or a committed one delivered before its tx-end began.
 * - offsets: commits that go back, or a fetch below the last commit, with no fault to explain it.
 * - liveness: a first delivery later than `drainMs` after the runner's drain.
 * - replication: a slave of a broker group that does not hold its master's whole log after the drain.
 * - split-brain: under an HA controller, an old master's SEND_OK after a newer master's (beyond the clock skew),
 *   one epoch acknowledged by two brokers, or more master epochs than the scenario allows.
 *
 * The checks live in `scenarios/checks/`; this module validates the options and puts the verdict together.
 */
import type { HistoryOp } from './history.js';
import { groupDeliveries, Reporter, resolveOptions, type CheckContext } from './checks/context.js';
import { checkDeliveries, checkReach } from './checks/delivery.js';
import { checkDuplicates } from './checks/duplicates.js';
import { buildModel, isAcked } from './checks/model.js';
import { checkOffsets } from './checks/offsets.js';
import { checkOrder } from './checks/order.js';
import { checkReplication } from './checks/replication.js';
import { checkSplitBrain } from './checks/split-brain.js';
import { ALL_CHECKS, HistoryCheckError, type CheckName, type CheckOptions, type Verdict, type VerdictStats, type Violation } from './checks/types.js';

export { ALL_CHECKS, HistoryCheckError };
export type { CheckName, CheckOptions, Verdict, VerdictStats, Violation };

function validate(opts: CheckOptions): void {
  const nonNegative = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(v >= 0)) throw new HistoryCheckError(`${name} must be a number >= 0, not ${v}`);
  };
  nonNegative('drainMs', opts.drainMs);
  if (opts.drainMs === undefined) throw new HistoryCheckError('drainMs is required');
  nonNegative('maxDuplicates', opts.maxDuplicates);
  nonNegative('skewMs', opts.skewMs);
  nonNegative('maxReconsumeTimes', opts.maxReconsumeTimes);
  nonNegative('rebalanceMs', opts.rebalanceMs);
  for (const [name, g] of Object.entries(opts.brokerGroups ?? {})) {
    nonNegative(`brokerGroups.${name}.maxClockSkewMs`, g.maxClockSkewMs);
    nonNegative(`brokerGroups.${name}.maxElections`, g.maxElections);
  }
  for (const c of opts.checks ?? []) {
    if (!ALL_CHECKS.includes(c)) throw new HistoryCheckError(`unknown check "${String(c)}"`);
  }
}

/** Ids that were sent, by how their sends ended: acknowledged, ambiguous, failed. */
function sendCounts(ctx: CheckContext): Pick<VerdictStats, 'sends' | 'acked' | 'ambiguous' | 'failed'> {
  const counts = { sends: 0, acked: 0, ambiguous: 0, failed: 0 };
  for (const m of ctx.model.messages.values()) {
    counts.sends++;
    if (isAcked(m)) counts.acked++;
    else if (m.tx ? !m.txRollback && (m.ambiguousSend || m.okOp !== undefined) : m.ambiguousSend) counts.ambiguous++;
    else if (m.failedSend && m.okOp === undefined && !m.ambiguousSend) counts.failed++;
  }
  return counts;
}

/** Checks a history against the options' promises; `ok` when no enabled check found a violation. */
export function checkHistory(ops: readonly HistoryOp[], opts: CheckOptions): Verdict {
  validate(opts);
  const resolved = resolveOptions(opts, ALL_CHECKS);
  const groupOf = new Map<string, string>();
  for (const [group, g] of Object.entries(opts.brokerGroups ?? {})) for (const p of g.processes) groupOf.set(p, group);
  const model = buildModel(ops, groupOf);
  const reporter = new Reporter(resolved.checks);
  const ctx: CheckContext = { model, opts: resolved, reporter, byGroup: groupDeliveries(model.deliveries) };

  const reach = checkReach(ctx);
  const dups = checkDuplicates(ctx);
  checkDeliveries(ctx);
  if (resolved.checks.has('order')) checkOrder(ctx);
  if (resolved.checks.has('offsets')) checkOffsets(ctx);
  checkReplication(ctx);
  const brains = checkSplitBrain(ctx);

  const violations: Violation[] = [];
  for (const check of ALL_CHECKS) violations.push(...(reporter.kept.get(check) ?? []));
  const stats: VerdictStats = {
    ...sendCounts(ctx),
    ...dups,
    deadLettered: reach.deadLettered,
    lostUnflushed: reach.lostUnflushed,
    committedTx: model.committedTx,
    rolledBackTx: model.rolledBackTx,
    lost: reach.lost,
    late: reach.late,
    ...brains,
    suppressed: reporter.suppressed,
  };
  return { ok: violations.length === 0, violations, stats };
}

/** A short human-readable verdict: a line of stats, then one line per violation (at most `limit`, default 20). */
export function formatVerdict(v: Verdict, limit = 20): string {
  const s = v.stats;
  const total = v.violations.length + s.suppressed;
  const head =
    `${v.ok ? 'OK' : `FAILED (${total} violation${total === 1 ? '' : 's'})`}: ` +
    `sends ${s.sends}, acked ${s.acked}, ambiguous ${s.ambiguous}, failed ${s.failed}, ` +
    `delivered ${s.delivered} (unique ${s.uniqueDelivered}, duplicates ${s.duplicates}, explained ${s.explainedDuplicates}), ` +
    `dead-lettered ${s.deadLettered}, tx committed ${s.committedTx}, rolled back ${s.rolledBackTx}, lost ${s.lost}${s.lostUnflushed > 0 ? ` (and ${s.lostUnflushed} unflushed at a power loss of an async-flush broker)` : ''}, late ${s.late}` +
    (s.epochsAcked > 0 ? `, master epochs acknowledged ${s.epochsAcked}, split-brain acks ${s.splitBrain}` : '');
  const lines = [head, ...v.violations.slice(0, limit).map((x) => `  ${x.message}`)];
  const rest = total - Math.min(limit, v.violations.length);
  if (rest > 0) lines.push(`  ... and ${rest} more`);
  return lines.join('\n');
}
