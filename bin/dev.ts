/* `mq dev`: an embedded system on the in-memory transport with a demo that prints what it does. */
import { filter } from 'rxjs';
import { waitFor } from 'xstate';
import { startSystem } from '../index.js';
import { memoryTransport } from '../transports/memory.js';
import { startPingPong } from '../scenarios/ping-pong.js';

export async function runDev(opts: { rounds: number }): Promise<void> {
  const system = await startSystem({ transport: memoryTransport() });
  system.inspection$.pipe(filter((r) => r.kind === 'snapshot' && r.actorId === r.address)).subscribe((r) => {
    console.log(`${new Date(r.time).toISOString()} ${r.address.padEnd(10)} ${String(r.event).padEnd(32)} -> ${JSON.stringify(r.state)}`);
  });
  const { ping } = startPingPong(system, { rounds: opts.rounds, maxPauseMs: 50 });
  const done = await waitFor(ping.actor, (s) => s.status === 'done', { timeout: 60_000 });
  console.log(`demo finished: ${done.context.ok} pongs, ${done.context.failed} failed, last reply "${done.context.lastReply}"`);
  await system.stop();
}
