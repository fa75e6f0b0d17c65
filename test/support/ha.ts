import type { MqSystem } from '../../index.js';
import { RequestCode } from '../../actors/protocol/request-codes.js';
import { parseJsonBody, request } from '../../actors/protocol/replies.js';
import type { HaStatus } from '../../actors/protocol/commands.js';
import { Status } from '../../core/status.js';

/** Polls `cond` every 20 ms until it holds; throws naming `what` after `ms`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The HA status a broker reports (GET_BROKER_HA_STATUS), or undefined when it does not answer OK. */
export async function haStatus(system: MqSystem, address: string): Promise<HaStatus | undefined> {
  const reply = await system.env.transport.request(address, request(RequestCode.GET_BROKER_HA_STATUS), { timeoutMs: 500 }).catch(() => undefined);
  return reply?.status === Status.OK ? parseJsonBody<HaStatus>(reply) : undefined;
}
