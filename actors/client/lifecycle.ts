import { fromCallback, type AnyActorRef } from 'xstate';
import type { Clock } from '../../core/clock.js';

/**
 * What the client machine (client.machine.ts) of producers and consumers uses: the hooks it calls into plain
 * code, and a ticker (a callback actor that sends one event per interval on the injected clock while its
 * state is active).
 */

/** Plain code a client machine drives: start, periodic work, and drain at stop. */
export interface ClientLifecycle {
  /** Runs once in `starting`; a rejection ends the machine in `failed`. */
  start(): Promise<void>;
  /** One periodic task (`routes`, `heartbeat`, `rebalance`, `commit`...); must not throw. */
  tick(task: string): void;
  /** A frame that arrived at the client's address. */
  onFrame(frame: import('../../transports/frame.js').Frame, reply?: (f: import('../../transports/frame.js').Frame) => void): void;
  /** Runs once in `stopping`: finish what is in flight, commit, unregister. */
  drain(): Promise<void>;
}

export interface TickerInput {
  clock: Clock;
  /** task name -> interval in ms (tasks with an interval <= 0 never tick). */
  intervals: Record<string, number>;
}

export type TickEvent = { type: 'tick'; task: string };

/** Sends `{ type: 'tick', task }` to its parent every interval of every task, until stopped. */
export const ticker = fromCallback<TickEvent, TickerInput>(({ input, sendBack }) => {
  const handles = Object.entries(input.intervals)
    .filter(([, ms]) => ms > 0)
    .map(([task, ms]) => input.clock.setInterval(() => sendBack({ type: 'tick', task }), ms));
  return () => {
    for (const h of handles) input.clock.clearInterval(h);
  };
});

/** Resolves when `actor` reaches a state for which `done` holds (or its snapshot is final). */
export function waitForState(actor: AnyActorRef, done: (value: unknown) => boolean): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const check = (snap: { value: unknown; status: string; error?: unknown }) => {
      if (done(snap.value)) return true;
      if (snap.status === 'error') {
        reject(snap.error);
        return true;
      }
      if (snap.status === 'done' || snap.status === 'stopped') {
        resolve(snap.value);
        return true;
      }
      return false;
    };
    if (check(actor.getSnapshot())) {
      resolve(actor.getSnapshot().value);
      return;
    }
    const sub = actor.subscribe({
      next: (snap) => {
        if (check(snap as never)) {
          resolve((snap as { value: unknown }).value);
          sub.unsubscribe();
        }
      },
      error: (err) => reject(err),
    });
  });
}
