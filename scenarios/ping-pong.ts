import { assign, fromPromise, setup } from 'xstate';
import type { ActorIo, FrameEvent } from '../actors/runtime/actor-host.js';
import type { ActorSystem } from '../actors/runtime/system.js';
import { FrameKind, type Frame } from '../transports/frame.js';

/**
 * Two actors that play ping-pong: the smallest thing that exercises a whole actor system (hosting, request/
 * reply with timeouts, delayed transitions on the Environment's clock, inspection). The determinism test
 * (test/scenarios/determinism.test.ts) runs it on simulated time, and the actor host's tests use it; no command
 * of `mq` runs it.
 */
export const PING_CODE = 0xfff0;

const text = new TextEncoder();
const decoder = new TextDecoder();

export const pongMachine = setup({
  types: {} as { context: { served: number }; events: FrameEvent },
  actions: {
    answer: assign(({ context, event }) => {
      event.reply?.({
        kind: FrameKind.Reply,
        code: event.frame.code,
        requestId: event.frame.requestId,
        status: 0,
        header: {},
        body: text.encode(`pong ${decoder.decode(event.frame.body)}`),
      });
      return { served: context.served + 1 };
    }),
  },
}).createMachine({
  id: 'pong',
  context: { served: 0 },
  initial: 'serving',
  states: { serving: { on: { frame: { actions: 'answer' } } } },
});

export interface PingInput {
  io: ActorIo;
  target: string;
  rounds: number;
  /** Upper bound of the random pause between rounds, in ms of the Environment's clock. */
  maxPauseMs: number;
  timeoutMs: number;
}

interface PingContext extends PingInput {
  round: number;
  ok: number;
  failed: number;
  lastReply: string;
}

export const pingMachine = setup({
  types: {} as { context: PingContext; input: PingInput },
  actors: {
    ping: fromPromise(async ({ input }: { input: { io: ActorIo; target: string; round: number; timeoutMs: number } }) => {
      const f: Frame = { kind: FrameKind.Request, code: PING_CODE, requestId: 0, status: 0, header: {}, body: text.encode(String(input.round)) };
      const reply = await input.io.request(input.target, f, input.timeoutMs);
      return decoder.decode(reply.body);
    }),
  },
  delays: {
    pause: ({ context }) => context.io.random.int(context.maxPauseMs + 1),
  },
  guards: {
    finished: ({ context }) => context.round >= context.rounds,
  },
}).createMachine({
  id: 'ping',
  context: ({ input }) => ({ ...input, round: 0, ok: 0, failed: 0, lastReply: '' }),
  initial: 'pausing',
  states: {
    pausing: {
      always: { guard: 'finished', target: 'done' },
      after: { pause: 'pinging' },
    },
    pinging: {
      invoke: {
        src: 'ping',
        input: ({ context }) => ({ io: context.io, target: context.target, round: context.round, timeoutMs: context.timeoutMs }),
        onDone: {
          target: 'pausing',
          actions: assign(({ context, event }) => ({ round: context.round + 1, ok: context.ok + 1, lastReply: event.output })),
        },
        onError: {
          target: 'pausing',
          actions: assign(({ context }) => ({ round: context.round + 1, failed: context.failed + 1 })),
        },
      },
    },
    done: { type: 'final' },
  },
});

/** Hosts a pong at `pong` and a ping at `ping` that plays `rounds` rounds against it. */
export function startPingPong(system: ActorSystem, opts: { rounds: number; maxPauseMs?: number; timeoutMs?: number }) {
  const pong = system.host({ address: 'demo.pong', logic: pongMachine });
  const ping = system.host({
    address: 'demo.ping',
    logic: pingMachine,
    listen: false,
    input: (io) => ({ io, target: 'demo.pong', rounds: opts.rounds, maxPauseMs: opts.maxPauseMs ?? 10, timeoutMs: opts.timeoutMs ?? 1000 }),
  });
  return { ping, pong };
}
