import { hostClient } from '../../../actors/client/hosting.js';
import type { ClientLifecycle } from '../../../actors/client/lifecycle.js';
import { clientAddress } from '../../../actors/protocol/commands.js';
import { Status, StatusError } from '../../../core/status.js';
import { simSystem } from '../../support/sim.js';
import { drive } from '../../support/fake-broker.js';

function recorder(start: () => Promise<void> = async () => undefined) {
  const calls: string[] = [];
  const core: ClientLifecycle & { calls: string[] } = {
    calls,
    start: async () => {
      calls.push('start');
      await start();
    },
    tick: (task) => calls.push(`tick:${task}`),
    onFrame: () => calls.push('frame'),
    drain: async () => {
      calls.push('drain');
    },
  };
  return core;
}

describe('client hosting', () => {
  it('hosts the client at its address, ticks its tasks while running, and drains and unhosts it at stop', async () => {
    const { env, system } = await simSystem(3);
    const core = recorder();
    const hosted = await drive(env.clock, hostClient(system, { role: 'consumer', clientId: 'c-1', intervals: { a: 100, off: 0 }, build: () => core }));
    expect(hosted.core).toBe(core);
    expect(system.addresses()).toContain(clientAddress('c-1'));
    await env.clock.advance(250);
    expect(core.calls).toEqual(['start', 'tick:a', 'tick:a']);
    await drive(env.clock, hosted.stop());
    expect(core.calls.at(-1)).toBe('drain');
    expect(system.addresses()).not.toContain(clientAddress('c-1'));
    await hosted.stop(); // stopping again is harmless
    await system.stop();
  });

  it('unhosts a client whose start fails, cleans up after it, and throws SERVICE_NOT_AVAILABLE naming it', async () => {
    const { env, system } = await simSystem(4);
    const core = recorder(async () => {
      throw new Error('no name server answered');
    });
    let cleaned = false;
    const started = hostClient(system, {
      role: 'producer',
      clientId: 'p-1',
      intervals: {},
      build: () => core,
      onFailedStart: (c) => (cleaned = c === core),
    });
    const err = await drive(env.clock, started.catch((e: unknown) => e));
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).status).toBe(Status.SERVICE_NOT_AVAILABLE);
    expect((err as StatusError).message).toBe('SERVICE_NOT_AVAILABLE: producer p-1 failed to start: no name server answered');
    expect(cleaned).toBe(true);
    expect(system.addresses()).not.toContain(clientAddress('p-1'));
    await system.stop();
  });
});
