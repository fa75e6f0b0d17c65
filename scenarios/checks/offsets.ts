/**
 * The `offsets` check, per group, broker, topic and queue: acknowledged commits do not go back unless a nemesis
 * op lies between the two, and a `fetch-offset` reads at least the last acknowledged commit unless a nemesis op
 * that targeted that broker lies between the commit and the fetch (a broker may lose offsets it had not
 * persisted). The last commit stands for the largest: where commits went back, the broker keeps the lower one.
 * Under an HA controller a fault up to `offsetsLagMs` before the earlier op also explains a step back: offsets
 * replicate behind the log, and a failover can answer an older one (at least once, as RocketMQ).
 */
import type { CheckContext } from './context.js';
import type { OffsetOp } from './model.js';

const where = (o: OffsetOp): string => `group ${o.value.group} broker ${o.value.broker} topic ${o.value.topic} queue ${o.value.queueId}`;

export function checkOffsets(ctx: CheckContext): void {
  const lastCommit = new Map<string, OffsetOp>();
  // a group under a controller: a fault shortly before a step back explains it (see CheckOptions.brokerGroups)
  const failedOver = (broker: string, last: OffsetOp, o: OffsetOp): boolean => {
    const lag = ctx.opts.brokerGroups[broker]?.offsetsLagMs;
    return lag !== undefined && ctx.model.nemesis.explains(last.op, last.time, o.op, lag);
  };
  for (const o of ctx.model.offsetOps) {
    const { group, broker, topic, queueId, offset } = o.value;
    const k = `${group}\u0000${broker}\u0000${topic}\u0000${queueId}`;
    const last = lastCommit.get(k);
    if (o.kind === 'commit') {
      if (last && offset < last.value.offset && !ctx.model.nemesis.between(last.op, o.op) && !failedOver(broker, last, o)) {
        ctx.reporter.report(
          'offsets',
          `${where(o)}: commit went back from ${last.value.offset} (at ${last.time} ms, op ${last.op}) to ${offset} (at ${o.time} ms, op ${o.op}) with no nemesis op between`,
          [],
          [last.op, o.op],
        );
      }
      lastCommit.set(k, o);
    } else if (last && offset < last.value.offset && !ctx.model.nemesis.targetedBetween(broker, last.op, o.op) && !failedOver(broker, last, o)) {
      ctx.reporter.report(
        'offsets',
        `${where(o)}: fetched offset ${offset} at ${o.time} ms (op ${o.op}), below ${last.value.offset} committed at ${last.time} ms (op ${last.op}), with no fault of ${broker} between`,
        [],
        [last.op, o.op],
      );
    }
  }
}
