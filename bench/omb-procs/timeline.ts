/**
 * The fixed-rate timeline of the OpenMessaging-style benchmark: message i is due at start + i / rate, whatever
 * happened to the messages before it. A sender that falls behind (sends in flight at their bound, a slow event
 * loop) sends the late messages as soon as it can, and their latency still counts from their due time: a stall
 * shows as the latency of every message it delayed, not only of the one that waited (coordinated omission is not
 * hidden). Messages still unsent when the run ends are not sent: they show as a lower achieved rate. A message is
 * measured when it is sent in the measured window (after the warm-up), whatever its due time: a sender that
 * cannot keep up sends as fast as it can, and its latencies grow with how far behind it is.
 */

/** When message `index` is due, on the clock `startMs` is on (ms). */
export function dueAt(startMs: number, index: number, rate: number): number {
  return startMs + (index * 1000) / rate;
}

/** How many messages are due at `nowMs`: those of index 0 up to this count minus one (none before the start). */
export function dueBy(startMs: number, nowMs: number, rate: number): number {
  if (nowMs < startMs) return 0;
  return Math.floor(((nowMs - startMs) * rate) / 1000) + 1;
}

export interface TimelineSpec {
  /** Messages per second. */
  rate: number;
  /** Sent but not measured first. */
  warmupMs: number;
  /** Measured: messages sent in this window count, their latencies recorded. */
  durationMs: number;
  /** Sends in flight at most; past it the timeline waits for an answer (and its messages turn late). */
  maxInFlight: number;
  /** How long to wait for the answers of the last sends after the end. */
  settleMs: number;
}

export interface TimelineRun {
  /** Every message sent, warm-up included. */
  sent: number;
  acked: number;
  failed: number;
  /** Messages due in the measured window. */
  dueMeasured: number;
  /** Messages sent in the measured window and acknowledged. */
  ackedMeasured: number;
  /** Publish latency of each acknowledged measured message: due time -> send resolved, ms. */
  publishMs: number[];
  /** How far behind its timeline the sender was when the run ended (0: on time), ms. */
  behindAtEndMs: number;
  /** Answers still missing after `settleMs`. */
  unsettled: number;
}

const nowMs = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the timeline from `startMs` (a `performance.now()` time): `send(index, dueMs, measured)` for each
 * message in turn, one call per message. Its promise resolving is the acknowledgement. `halt` ends the run early
 * (the messages due after it are not sent, and do not count as due).
 */
export async function runTimeline(
  startMs: number,
  spec: TimelineSpec,
  send: (index: number, dueMs: number, measured: boolean) => Promise<unknown>,
  halt?: AbortSignal,
): Promise<TimelineRun> {
  const measureFrom = startMs + spec.warmupMs;
  const end = measureFrom + spec.durationMs;
  const run: TimelineRun = { sent: 0, acked: 0, failed: 0, dueMeasured: 0, ackedMeasured: 0, publishMs: [], behindAtEndMs: 0, unsettled: 0 };
  // the messages due before the end, and the first of them in the measured window
  const total = Math.ceil(((end - startMs) * spec.rate) / 1000);
  const firstMeasured = Math.min(total, Math.ceil(((measureFrom - startMs) * spec.rate) / 1000));
  run.dueMeasured = total - firstMeasured;
  let inFlight = 0;
  let room: (() => void) | undefined;
  let settled: (() => void) | undefined;
  const answered = (): void => {
    inFlight--;
    if (room) {
      const r = room;
      room = undefined;
      r();
    }
    if (inFlight === 0 && settled) settled();
  };
  let i = 0;
  if (startMs > nowMs()) await sleep(startMs - nowMs());
  for (;;) {
    const t = nowMs();
    if (t >= end || i >= total || halt?.aborted) break;
    const due = Math.min(total, dueBy(startMs, t, spec.rate));
    while (i < due && inFlight < spec.maxInFlight) {
      const index = i++;
      const dueMs = dueAt(startMs, index, spec.rate);
      const measured = t >= measureFrom;
      inFlight++;
      run.sent++;
      send(index, dueMs, measured).then(
        () => {
          run.acked++;
          if (measured) {
            run.ackedMeasured++;
            run.publishMs.push(nowMs() - dueMs);
          }
          answered();
        },
        () => {
          run.failed++;
          answered();
        },
      );
    }
    if (inFlight >= spec.maxInFlight) {
      // wait for an answer (looking at the end and at `halt` every 100 ms)
      await Promise.race([new Promise<void>((r) => (room = r)), sleep(100)]);
      room = undefined;
    } else if (i < total) {
      await sleep(Math.max(0, dueAt(startMs, i, spec.rate) - nowMs()));
    }
  }
  if (halt?.aborted) run.dueMeasured = Math.max(0, Math.min(total, dueBy(startMs, nowMs(), spec.rate)) - firstMeasured);
  run.behindAtEndMs = i < total ? Math.max(0, nowMs() - dueAt(startMs, i, spec.rate)) : 0;
  if (inFlight > 0) await Promise.race([new Promise<void>((r) => (settled = r)), sleep(spec.settleMs)]);
  run.unsettled = inFlight;
  return run;
}
