/**
 * The `duplicated` check: a message delivered with SUCCESS more than once to one group (across its consumers).
 * Explained duplicates (a retried or ambiguous send, a nemesis op in between) are counted and become one
 * violation when their total exceeds `maxDuplicates`; each unexplained one is a violation.
 */
import { isExplained, place, type CheckContext } from './context.js';

export interface DuplicateCounts {
  delivered: number;
  uniqueDelivered: number;
  duplicates: number;
  explainedDuplicates: number;
}

/** Ids and ops named in the one violation of too many explained duplicates. */
const MAX_LISTED = 20;

export function checkDuplicates(ctx: CheckContext): DuplicateCounts {
  const counts: DuplicateCounts = { delivered: 0, uniqueDelivered: 0, duplicates: 0, explainedDuplicates: 0 };
  const explainedIds: string[] = [];
  const explainedOps: number[] = [];
  for (const [group, ids] of ctx.byGroup) {
    for (const [id, ds] of ids) {
      const successes = ds.filter((d) => d.result === 'SUCCESS');
      if (successes.length === 0) continue;
      counts.delivered += successes.length;
      counts.uniqueDelivered++;
      const first = successes[0]!;
      const m = ctx.model.messages.get(id);
      for (let i = 1; i < successes.length; i++) {
        const dup = successes[i]!;
        counts.duplicates++;
        // a fault any time after the group first got the message (a RETRY answer included) can bring it back
        if (isExplained(ctx, m, ds[0]!, dup)) {
          counts.explainedDuplicates++;
          if (explainedOps.length < MAX_LISTED) {
            if (!explainedIds.includes(id)) explainedIds.push(id);
            explainedOps.push(dup.op);
          }
          continue;
        }
        ctx.reporter.report(
          'duplicated',
          `${id} delivered with SUCCESS again to group ${group} by ${dup.consumer} at ${dup.time} ms (op ${dup.op}, ${place(dup)}) after its first delivery by ${first.consumer} at ${first.time} ms (op ${first.op}, ${place(first)}), with no retry, ambiguous send or nemesis op to explain it`,
          [id],
          [first.op, dup.op],
        );
      }
    }
  }
  if (counts.explainedDuplicates > ctx.opts.maxDuplicates) {
    ctx.reporter.report(
      'duplicated',
      `${counts.explainedDuplicates} explained duplicate deliveries, more than the ${ctx.opts.maxDuplicates} allowed (ids ${explainedIds.join(', ')}${counts.explainedDuplicates > explainedOps.length ? ', ...' : ''})`,
      explainedIds,
      explainedOps,
    );
  }
  return counts;
}
