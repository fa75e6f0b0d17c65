import { assign, fromCallback, fromPromise, setup } from 'xstate';
import type { ActorIo, FrameEvent } from '../runtime/actor-host.js';
import { NAMESRV_STARTED_SUBJECT } from '../protocol/commands.js';
import { RequestCode } from '../protocol/request-codes.js';
import { errorReply } from '../protocol/replies.js';
import { Status } from '../../core/status.js';
import {
  openBroker,
  persistOffsetsIfMoved,
  scanClients,
  shutDownBroker,
  type BrokerDeps,
  type BrokerRuntime,
} from './broker-runtime.js';
import { dispatchFrame } from './handlers/dispatch.js';

/**
 * The broker's lifecycle: starting (open the store, load configs) -> registering (with every name server;
 * on to serving after the first answer or a bounded time) -> serving (frames to handlers, periodic
 * re-registration, client expiry, offset persistence) -> shuttingDown (unregister, answer held pulls,
 * persist offsets, close the store) -> stopped. A failure to open ends in `failed`.
 *
 * A name server that did not answer is asked again on a short backoff until it does (registration.ts); a
 * name server that starts broadcasts it (`namesrv.started`), and the broker registers with it at once.
 *
 * While serving, frames go straight to the handlers: `serving` installs that route on entry and removes it on
 * exit (ActorIo.serveFrames), so a request costs no transition (an event per request means a transition and
 * a new snapshot per request, garbage that showed in the GC pauses behind the sync send's tail latency). A
 * frame that arrives as an event is handled the same way. Frames that arrive while not serving get
 * SERVICE_NOT_AVAILABLE.
 */

export type BrokerMachineInput = BrokerDeps;

export interface BrokerMachineContext extends BrokerDeps {
  rt: BrokerRuntime | undefined;
  stopRequested: boolean;
  error: string | undefined;
}

export type BrokerEvent =
  | FrameEvent
  | { type: 'stop' }
  | { type: 'namesrv.started'; namesrvId: string }
  | { type: 'tick.register' }
  | { type: 'tick.scanClients' }
  | { type: 'tick.persistOffsets' };

function notServing(event: FrameEvent, state: string): void {
  event.reply?.(errorReply(event.frame, Status.SERVICE_NOT_AVAILABLE, `the broker is ${state}, not serving`));
}

export const brokerMachine = setup({
  types: {} as { context: BrokerMachineContext; events: BrokerEvent; input: BrokerMachineInput },
  actors: {
    open: fromPromise(async ({ input }: { input: BrokerDeps }) => openBroker(input)),
    register: fromPromise(async ({ input }: { input: { rt: BrokerRuntime } }) => input.rt.registrations.first()),
    announcements: fromCallback<BrokerEvent, ActorIo>(({ sendBack, input }) => {
      const sub = input.subscribe(NAMESRV_STARTED_SUBJECT).subscribe({
        next: (f) => {
          if (f.code === RequestCode.NAMESRV_STARTED && typeof f.header.namesrvId === 'string') sendBack({ type: 'namesrv.started', namesrvId: f.header.namesrvId });
        },
        error: (err: unknown) => input.logger.warn({ err }, 'name server announcements failed; registering on the interval only'),
      });
      return () => sub.unsubscribe();
    }),
    shutdown: fromPromise(async ({ input }: { input: { deps: BrokerDeps; rt: BrokerRuntime | undefined } }) => {
      if (input.rt) await shutDownBroker(input.deps, input.rt);
    }),
    timers: fromCallback<BrokerEvent, BrokerDeps>(({ sendBack, input }) => {
      const c = input.io.clock;
      const s = input.settings;
      const handles = [
        c.setInterval(() => sendBack({ type: 'tick.register' }), s.registerIntervalMs),
        c.setInterval(() => sendBack({ type: 'tick.scanClients' }), s.clientScanIntervalMs),
        c.setInterval(() => sendBack({ type: 'tick.persistOffsets' }), s.offsetPersistMs),
      ];
      return () => handles.forEach((h) => c.clearInterval(h));
    }),
  },
  actions: {
    refuse: ({ event, self }) => {
      if (event.type === 'frame') notServing(event, String(self.getSnapshot().value));
    },
    dispatch: ({ context, event }) => {
      if (event.type !== 'frame' || !context.rt) return;
      void dispatchFrame(context.rt.ctx, event.frame, event.reply);
    },
    serveFramesDirectly: ({ context }) => {
      const rt = context.rt;
      if (rt) context.io.serveFrames?.((incoming) => void dispatchFrame(rt.ctx, incoming.frame, incoming.reply));
    },
    frameEvents: ({ context }) => context.io.serveFrames?.(undefined),
    register: ({ context }) => {
      if (context.rt) void context.rt.registrations.all();
    },
    registerWithAnnouncer: ({ context, event }) => {
      if (event.type === 'namesrv.started') context.rt?.registrations.announced(event.namesrvId);
    },
    scanClients: ({ context }) => {
      if (context.rt) scanClients(context, context.rt);
    },
    persistOffsets: ({ context }) => {
      if (!context.rt) return;
      persistOffsetsIfMoved(context.rt).catch((err: unknown) => context.io.logger.error({ err }, 'could not persist consumer offsets'));
    },
  },
  guards: {
    stopRequested: ({ context }) => context.stopRequested,
  },
}).createMachine({
  id: 'broker',
  context: ({ input }) => ({ ...input, rt: undefined, stopRequested: false, error: undefined }),
  initial: 'starting',
  on: {
    frame: { actions: 'refuse' },
    'namesrv.started': { actions: 'registerWithAnnouncer' },
  },
  // listening from the start, so the subscription is in place before a name server may announce; until the
  // store is open an announcement changes nothing (registering asks every name server anyway)
  invoke: { src: 'announcements', input: ({ context }) => context.io },
  states: {
    starting: {
      on: { stop: { actions: assign({ stopRequested: true }) } },
      invoke: {
        src: 'open',
        input: ({ context }) => ({ io: context.io, settings: context.settings, storage: context.storage, openStore: context.openStore, ...(context.metrics ? { metrics: context.metrics } : {}) }),
        onDone: [
          { guard: 'stopRequested', target: 'shuttingDown', actions: assign({ rt: ({ event }) => event.output }) },
          { target: 'registering', actions: assign({ rt: ({ event }) => event.output }) },
        ],
        onError: {
          target: 'failed',
          actions: [
            assign({ error: ({ event }) => (event.error instanceof Error ? event.error.message : String(event.error)) }),
            ({ context, event }) => context.io.logger.error({ err: event.error }, 'broker failed to start'),
          ],
        },
      },
    },
    registering: {
      on: { stop: 'shuttingDown' },
      invoke: {
        src: 'register',
        input: ({ context }) => ({ rt: context.rt! }),
        onDone: 'serving',
        onError: 'serving',
      },
    },
    serving: {
      entry: 'serveFramesDirectly',
      exit: 'frameEvents',
      invoke: { src: 'timers', input: ({ context }) => context },
      on: {
        frame: { actions: 'dispatch' },
        'tick.register': { actions: 'register' },
        'tick.scanClients': { actions: 'scanClients' },
        'tick.persistOffsets': { actions: 'persistOffsets' },
        stop: 'shuttingDown',
      },
    },
    shuttingDown: {
      invoke: {
        src: 'shutdown',
        input: ({ context }) => ({ deps: context, rt: context.rt }),
        onDone: 'stopped',
        onError: {
          target: 'stopped',
          actions: [
            assign({ error: ({ event }) => (event.error instanceof Error ? event.error.message : String(event.error)) }),
            ({ context, event }) => context.io.logger.error({ err: event.error }, 'broker shutdown failed'),
          ],
        },
      },
    },
    stopped: { type: 'final' },
    failed: { type: 'final' },
  },
});
