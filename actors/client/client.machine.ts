import { assign, fromPromise, setup } from 'xstate';
import type { ActorIo, FrameEvent } from '../runtime/actor-host.js';
import { ticker, type ClientLifecycle, type TickEvent } from './lifecycle.js';

/**
 * The lifecycle of a client (producer or consumer): starting -> running -> stopping -> stopped, or failed when
 * starting fails. While running, a ticker on the injected clock fires the client's periodic tasks (route
 * refresh, heartbeats, and for consumers rebalance, offset commits and lock renewal); frames arriving at the
 * client's address go to its core. Data (sends, pulled batches) never passes through the machine.
 */
export interface ClientMachineInput {
  io: ActorIo;
  core: ClientLifecycle;
  /** Task name -> interval in ms (0 or less: the task does not run). */
  intervals: Record<string, number>;
}

interface ClientContext extends ClientMachineInput {
  error?: string;
}

export type ClientEvent = FrameEvent | TickEvent | { type: 'stop' };

const errorText = (e: unknown): string => String((e as Error)?.message ?? e);

export const clientMachine = setup({
  types: {} as { context: ClientContext; input: ClientMachineInput; events: ClientEvent },
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
  id: 'client',
  context: ({ input }) => ({ ...input }),
  initial: 'starting',
  on: { frame: { actions: 'onFrame' } },
  states: {
    starting: {
      invoke: {
        src: 'start',
        input: ({ context }) => ({ core: context.core }),
        onDone: 'running',
        onError: { target: 'failed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
      on: { stop: 'stopping' },
    },
    running: {
      invoke: { src: 'ticker', input: ({ context }) => ({ clock: context.io.clock, intervals: context.intervals }) },
      on: { tick: { actions: 'tick' }, stop: 'stopping' },
    },
    stopping: {
      invoke: {
        src: 'drain',
        input: ({ context }) => ({ core: context.core }),
        onDone: 'stopped',
        onError: { target: 'stopped', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    stopped: { type: 'final' },
    failed: { type: 'final' },
  },
});
