import { startPingPong } from '../../scenarios/ping-pong.js';
import { withFaults } from '../../transports/faults.js';
import { memoryTransport } from '../../transports/memory.js';
import { simSystem, traceOf } from '../support/sim.js';

/**
 * Two actors exchange 1,000 request/replies with random pauses, and a faulty network (drops, delays,
 * duplicates) on simulated time. The whole run is a function of its seed.
 */
async function run(seed: number) {
  const transport = withFaults(memoryTransport(), {
    rules: [{ from: '*', to: '*', drop: 0.03, duplicate: 0.03, delay: { minMs: 0, maxMs: 15 } }],
  });
  const { env, system } = await simSystem(seed, transport);
  const trace = traceOf(system);
  const { ping } = startPingPong(system, { rounds: 1000, maxPauseMs: 10, timeoutMs: 100 });
  const finished = await env.clock.runUntil(() => ping.actor.getSnapshot().status === 'done', 10 * 60_000);
  const { ok, failed } = ping.actor.getSnapshot().context;
  const result = { finished, ok, failed, virtualMs: env.clock.now(), records: trace.count, digest: trace.digest() };
  await system.stop();
  return result;
}

describe('determinism on the simulated Environment', () => {
  it('replays a faulty 1,000-round ping-pong bit for bit from its seed', async () => {
    const a = await run(42);
    const b = await run(42);
    const c = await run(43);
    expect(a.finished).toBe(true);
    expect(a.ok + a.failed).toBe(1000);
    // The faults really happened: some requests were lost and timed out, most went through.
    expect(a.failed).toBeGreaterThan(0);
    expect(a.ok).toBeGreaterThan(800);
    expect(b).toEqual(a);
    expect(c.digest).not.toBe(a.digest);
  });
});
