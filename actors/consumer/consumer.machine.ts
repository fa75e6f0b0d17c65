import { assign, fromPromise, setup } from 'xstate';
import type { ActorIo, FrameEvent } from '../runtime/actor-host.js';
import { ticker, type ClientLifecycle, type TickEvent } from '../client/lifecycle.js';

/**
 * The consumer's lifecycle: starting (routes, first heartbeat, first rebalance) -> running -> stopping
 * (finish in-flight processing, commit offsets, unregister) -> stopped (or failed when starting fails). While
 * running, a ticker on the injected clock drives route refresh, heartbeats, rebalance and offset commits, and
 * NOTIFY_CONSUMER_IDS_CHANGED frames trigger a rebalance. Pulled batches do not pass through the machine:
 * each pull loop is plain code, one promise per pull batch.
 */
export interface ConsumerMachineInput {
  io: ActorIo;
  core: ClientLifecycle;
  routeRefreshMs: number;
  heartbeatIntervalMs: number;
  rebalanceIntervalMs: number;
  commitIntervalMs: number;
  /** Orderly consumers renew their queue locks on this interval (0: no locks). */
  lockRenewMs?: number;
}

interface ConsumerContext extends ConsumerMachineInput {
  error?: string;
}

export type ConsumerEvent = FrameEvent | TickEvent | { type: 'stop' };

export const consumerMachine = setup({
  types: {} as { context: ConsumerContext; input: ConsumerMachineInput; events: ConsumerEvent },
  actors: {
    start: fromPromise<void, { core: ClientLifecycle }>(({ input }) => input.core.start()),
    drain: fromPromise<void, { core: ClientLifecycle }>(({ input }) => input.core.drain()),
    ticker,
  },
  actions: {
    onFrame: ({ context, event }) => {
      if (event.type === 'frame') context.core.onFrame(event.frame, event.reply);
    },
    tick: ({ context, event }) => {
      if (event.type === 'tick') context.core.tick(event.task);
    },
  },
}).createMachine({
  id: 'consumer',
  context: ({ input }) => ({ ...input }),
  initial: 'starting',
  on: { frame: { actions: 'onFrame' } },
  states: {
    starting: {
      invoke: {
        src: 'start',
        input: ({ context }) => ({ core: context.core }),
        onDone: 'running',
        onError: { target: 'failed', actions: assign({ error: ({ event }) => String((event.error as Error)?.message ?? event.error) }) },
      },
    },
    running: {
      invoke: {
        src: 'ticker',
        input: ({ context }) => ({
          clock: context.io.clock,
          intervals: {
            routes: context.routeRefreshMs,
            heartbeat: context.heartbeatIntervalMs,
            rebalance: context.rebalanceIntervalMs,
            commit: context.commitIntervalMs,
            lock: context.lockRenewMs ?? 0,
          },
        }),
      },
      on: { tick: { actions: 'tick' }, stop: 'stopping' },
    },
    stopping: {
      invoke: {
        src: 'drain',
        input: ({ context }) => ({ core: context.core }),
        onDone: 'stopped',
        onError: { target: 'stopped', actions: assign({ error: ({ event }) => String((event.error as Error)?.message ?? event.error) }) },
      },
    },
    stopped: { type: 'final' },
    failed: { type: 'final' },
  },
});
