import { setup, assign } from 'xstate';
import { firstValueFrom, filter, take } from 'rxjs';
import { ActorSystem } from '../../../actors/runtime/system.js';
import { realEnvironment } from '../../../actors/runtime/environment.js';
import type { ActorIo, FrameEvent } from '../../../actors/runtime/actor-host.js';
import type { InspectionRecord } from '../../../actors/runtime/inspection.js';
import { Status } from '../../../core/status.js';
import { memoryStorage } from '../../../store/backends/memory.js';
import { FrameKind, frame } from '../../../transports/frame.js';
import { memoryTransport } from '../../../transports/memory.js';
import { TransportError } from '../../../transports/transport.js';
import { startPingPong, pongMachine } from '../../../scenarios/ping-pong.js';
import { simSystem } from '../../support/sim.js';

const ECHO = 1;
const echoMachine = setup({
  types: {} as { context: { n: number }; events: FrameEvent },
}).createMachine({
  context: { n: 0 },
  initial: 'serving',
  states: {
    serving: {
      on: {
        frame: {
          actions: assign(({ context, event }) => {
            event.reply?.({ ...event.frame, kind: FrameKind.Reply, header: { n: context.n + 1 } });
            return { n: context.n + 1 };
          }),
        },
      },
    },
  },
});

async function realSystem() {
  const env = await realEnvironment({ transport: memoryTransport(), storage: (deps) => memoryStorage(deps) });
  return new ActorSystem(env);
}

describe('actor host', () => {
  it('turns frames into events and sends replies back', async () => {
    const system = await realSystem();
    const host = system.host({ address: 'echo', logic: echoMachine });
    const reply = await system.env.transport.request('echo', frame({ kind: FrameKind.Request, code: ECHO, body: new Uint8Array([7]) }));
    expect(reply.status).toBe(Status.OK);
    expect([...reply.body]).toEqual([7]);
    expect(reply.header.n).toBe(1);
    expect(host.actor.getSnapshot().context.n).toBe(1);
    await system.stop();
  });

  it('answers SERVICE_NOT_AVAILABLE for frames that reach a stopped actor, and unknown codes clearly', async () => {
    const system = await realSystem();
    const host = system.host({ address: 'picky', logic: echoMachine, toEvent: (i) => (i.frame.code === ECHO ? { type: 'frame' as const, frame: i.frame, reply: i.reply } : undefined) });
    const unknown = await system.env.transport.request('picky', frame({ kind: FrameKind.Request, code: 99 }));
    expect(unknown.status).toBe(Status.REQUEST_CODE_NOT_SUPPORTED);
    expect(String(unknown.header.error)).toMatch(/code 99/);
    host.actor.stop();
    const stopped = await system.env.transport.request('picky', frame({ kind: FrameKind.Request, code: ECHO }));
    expect(stopped.status).toBe(Status.SERVICE_NOT_AVAILABLE);
    await system.stop();
  });

  it('hands frames straight to the handler a state installs (no event per frame), and to the machine again once it leaves', async () => {
    const direct = setup({
      types: {} as { context: { io: ActorIo; events: number }; events: FrameEvent | { type: 'close' }; input: ActorIo },
    }).createMachine({
      context: ({ input }) => ({ io: input, events: 0 }),
      initial: 'open',
      on: {
        frame: {
          actions: [
            assign(({ context }) => ({ events: context.events + 1 })),
            ({ event }) => event.type === 'frame' && event.reply?.({ ...event.frame, kind: FrameKind.Reply, header: { via: 'event' } }),
          ],
        },
      },
      states: {
        open: {
          entry: ({ context }) => context.io.serveFrames?.((i) => i.reply?.({ ...i.frame, kind: FrameKind.Reply, header: { via: 'direct' } })),
          exit: ({ context }) => context.io.serveFrames?.(undefined),
          on: { close: 'closed' },
        },
        closed: {},
      },
    });
    const system = await realSystem();
    const host = system.host({ address: 'direct', logic: direct, input: (io) => io });
    const ask = () => system.env.transport.request('direct', frame({ kind: FrameKind.Request, code: ECHO }));
    expect((await ask()).header.via).toBe('direct');
    expect(host.actor.getSnapshot().context.events).toBe(0);
    host.actor.send({ type: 'close' });
    expect((await ask()).header.via).toBe('event');
    expect(host.actor.getSnapshot().context.events).toBe(1);
    host.actor.stop();
    expect((await ask()).status).toBe(Status.SERVICE_NOT_AVAILABLE);
    await system.stop();
  });

  it('fails a request to an address nobody serves within its timeout', async () => {
    const system = await realSystem();
    const host = system.host({ address: 'lonely', logic: echoMachine, listen: false });
    const started = Date.now();
    await expect(host.io.request('nobody.home', frame({ kind: FrameKind.Request, code: ECHO }), 200)).rejects.toBeInstanceOf(TransportError);
    expect(Date.now() - started).toBeLessThan(2000);
    await system.stop();
  });

  it('streams every actor\'s state changes into one inspection stream, stamped with the address', async () => {
    const system = await realSystem();
    const records = firstValueFrom(system.inspection$.pipe(filter((r): r is Extract<InspectionRecord, { kind: 'snapshot' }> => r.kind === 'snapshot' && r.actorId === 'demo.ping' && r.status === 'done'), take(1)));
    const seen: string[] = [];
    system.inspection$.subscribe((r) => seen.push(r.address));
    startPingPong(system, { rounds: 3, maxPauseMs: 1 });
    const done = await records;
    expect(done.state).toBe('done');
    expect(new Set(seen)).toEqual(new Set(['demo.ping', 'demo.pong']));
    await system.stop();
  });

  it('runs delayed transitions on the Environment clock', async () => {
    const { env, system } = await simSystem(7);
    const { ping } = startPingPong(system, { rounds: 5, maxPauseMs: 1000 });
    // Nothing happens until the virtual clock moves.
    await new Promise((r) => setTimeout(r, 20));
    expect(ping.actor.getSnapshot().context.round).toBe(0);
    await env.clock.runUntil(() => ping.actor.getSnapshot().status === 'done');
    expect(ping.actor.getSnapshot().context.ok).toBe(5);
    expect(env.clock.now()).toBeGreaterThan(1_700_000_000_000);
    await system.stop();
  });

  it('refuses to host two actors at one address', async () => {
    const system = await realSystem();
    system.host({ address: 'dup', logic: pongMachine });
    expect(() => system.host({ address: 'dup', logic: pongMachine })).toThrow(/already hosted/);
    await system.stop();
  });
});
