/**
 * What every check reads and writes: the history's model, the options with their defaults filled in, the
 * deliveries grouped by group and id, the rule that explains a duplicate delivery, and the reporter that keeps
 * at most 20 violations per check and counts the rest.
 */
import type { Delivery, HistoryModel, MessageRecord } from './model.js';
import type { CheckName, CheckOptions, Violation } from './types.js';

/** Violations kept per check; the rest are counted in `stats.suppressed`. */
export const MAX_VIOLATIONS_PER_CHECK = 20;

export interface ResolvedOptions {
  groups: Record<string, string[]>;
  orderedTopics: ReadonlySet<string>;
  checks: ReadonlySet<CheckName>;
  maxDuplicates: number;
  drainMs: number;
  skewMs: number;
  maxReconsumeTimes: number;
  rebalanceMs: number;
  unflushedWindowMs: Record<string, number>;
  brokerGroups: NonNullable<CheckOptions['brokerGroups']>;
}

export function resolveOptions(opts: CheckOptions, all: readonly CheckName[]): ResolvedOptions {
  return {
    groups: opts.groups,
    orderedTopics: new Set(opts.orderedTopics ?? []),
    checks: new Set(opts.checks ?? all),
    maxDuplicates: opts.maxDuplicates ?? Infinity,
    drainMs: opts.drainMs,
    skewMs: opts.skewMs ?? 0,
    maxReconsumeTimes: opts.maxReconsumeTimes ?? 16,
    rebalanceMs: opts.rebalanceMs ?? 0,
    unflushedWindowMs: opts.unflushedWindowMs ?? {},
    brokerGroups: opts.brokerGroups ?? {},
  };
}

/** Keeps the first MAX_VIOLATIONS_PER_CHECK violations of each enabled check and counts the rest. */
export class Reporter {
  readonly kept = new Map<CheckName, Violation[]>();
  suppressed = 0;

  constructor(private readonly enabled: ReadonlySet<CheckName>) {}

  report(check: CheckName, message: string, ids: string[], ops: number[]): void {
    if (!this.enabled.has(check)) return;
    let list = this.kept.get(check);
    if (!list) this.kept.set(check, (list = []));
    if (list.length < MAX_VIOLATIONS_PER_CHECK) list.push({ check, message: `${check}: ${message}`, ids, ops });
    else this.suppressed++;
  }
}

export interface CheckContext {
  model: HistoryModel;
  opts: ResolvedOptions;
  reporter: Reporter;
  /** group -> id -> its deliveries to the group (any result), in history order. */
  byGroup: Map<string, Map<string, Delivery[]>>;
}

export function groupDeliveries(deliveries: readonly Delivery[]): Map<string, Map<string, Delivery[]>> {
  const byGroup = new Map<string, Map<string, Delivery[]>>();
  for (const d of deliveries) {
    let ids = byGroup.get(d.group);
    if (!ids) byGroup.set(d.group, (ids = new Map()));
    let list = ids.get(d.id);
    if (!list) ids.set(d.id, (list = []));
    list.push(d);
  }
  return byGroup;
}

/**
 * A later SUCCESS delivery of a message already delivered to the group is explained when the message was sent
 * more than once (a retry), a send of it was ambiguous, it was stored twice (the two deliveries come from
 * different places: a producer's own retry of a send whose answer was lost), or a nemesis op lies between the
 * first delivery and this one (or up to `rebalanceMs` before the first).
 */
export function isExplained(ctx: CheckContext, m: MessageRecord | undefined, first: Delivery, later: Delivery): boolean {
  if (m && (m.invokes > 1 || m.ambiguousSend)) return true;
  if (place(first) !== place(later)) return true;
  return ctx.model.nemesis.explains(first.op, first.time, later.op, ctx.opts.rebalanceMs);
}

/** "broker-a/3@17": where a delivery came from. */
export function place(d: Delivery): string {
  return `${d.broker}/${d.queueId}@${d.offset}`;
}
