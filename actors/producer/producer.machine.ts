import { assign, fromPromise, setup } from 'xstate';
import type { ActorIo, FrameEvent } from '../runtime/actor-host.js';
import { ticker, type ClientLifecycle, type TickEvent } from '../client/lifecycle.js';

/**
 * The producer's lifecycle: starting -> running -> stopping -> stopped (or failed when starting fails).
 * While running, a ticker on the injected clock refreshes routes and sends heartbeats. Sends do not pass
 * through the machine (they are plain code, see send-path.ts): only lifecycle, timers and arriving frames do.
 */
export interface ProducerMachineInput {
  io: ActorIo;
  core: ClientLifecycle;
  routeRefreshMs: number;
  heartbeatIntervalMs: number;
}

interface ProducerContext extends ProducerMachineInput {
  error?: string;
}

export type ProducerEvent = FrameEvent | TickEvent | { type: 'stop' };

export const producerMachine = setup({
  types: {} as { context: ProducerContext; input: ProducerMachineInput; events: ProducerEvent },
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
  id: 'producer',
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
      on: { stop: 'stopping' },
    },
    running: {
      invoke: {
        src: 'ticker',
        input: ({ context }) => ({ clock: context.io.clock, intervals: { routes: context.routeRefreshMs, heartbeat: context.heartbeatIntervalMs } }),
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
