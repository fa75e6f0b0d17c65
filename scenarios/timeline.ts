/**
 * A scenario's timeline on a run's clock, for the simulated and the real runner alike: each step is applied at
 * its time (`at`, from the run's zero `t0`), or once its condition holds (`when`: counts of acknowledged and
 * consumed messages, looked at every `pollMs`), or at the later of both. `pending` counts the steps not yet
 * applied; `workEnd` is when the workloads, the clients' starts and the timed steps are all over.
 */
import type { Clock } from '../core/clock.js';
import type { FaultStep, Scenario } from './scenario-schema.js';

export interface TimelineRun {
  /** Steps not applied yet. */
  readonly pending: number;
  /** Stops looking at conditions. */
  stop(): void;
}

export function scheduleTimeline(
  clock: Clock,
  t0: number,
  timeline: readonly FaultStep[],
  counts: () => { acked: number; consumed: number },
  apply: (step: FaultStep) => void,
  pollMs: number,
): TimelineRun {
  let pending = timeline.length;
  const waiting: FaultStep[] = [];
  const run = (st: FaultStep): void => {
    apply(st);
    pending--;
  };
  for (const st of timeline) clock.setTimeout(() => (st.when ? waiting.push(st) : run(st)), Math.max(0, t0 + (st.at ?? 0) - clock.now()));
  const holds = (st: FaultStep): boolean => {
    const c = counts();
    return (st.when!.acked === undefined || c.acked >= st.when!.acked) && (st.when!.delivered === undefined || c.consumed >= st.when!.delivered);
  };
  const conditions = clock.setInterval(() => {
    for (let i = 0; i < waiting.length; i++) {
      const st = waiting[i]!;
      if (holds(st)) {
        waiting.splice(i--, 1);
        run(st);
      }
    }
  }, pollMs);
  return {
    get pending() {
      return pending;
    },
    stop: () => clock.clearInterval(conditions),
  };
}

/** When the workloads, the clients' starts and the timed steps (with their durations) are all over. */
export function workEndOf(s: Scenario, timeline: readonly FaultStep[], t0: number): number {
  const stepsEnd = Math.max(0, ...timeline.map((st) => (st.at ?? 0) + ('for' in st && typeof st.for === 'number' ? st.for : 0)));
  const clients = [...s.topology.producers, ...s.topology.consumers];
  return t0 + Math.max(stepsEnd, ...s.workloads.map((w) => w.until), ...clients.map((c) => (typeof c.start === 'number' ? c.start : 0)));
}
