import type { Actor } from 'xstate';
import { namesrvAddress } from '../protocol/commands.js';
import type { ActorSystem } from '../runtime/system.js';
import { nameServerMachine } from './namesrv.machine.js';
import type { RouteTable } from './route-table.js';
import { AclGuard } from '../runtime/acl-guard.js';

export interface NameServerOptions {
  /** The name server's id; it serves at `namesrv.<id>`. */
  id: string;
  /** Brokers not heard from for this long are dropped (default 120000 ms, as RocketMQ). */
  brokerExpiryMs?: number;
  /** How often silent brokers are looked for (default 10000 ms). */
  scanIntervalMs?: number;
  /**
   * ACL file (JSON, actors/protocol/acl/acl-file.ts), read through the Environment's storage: when given, route
   * look-ups need a signed request of any account, registrations an admin or broker account, topic deletion an
   * admin account (else NO_PERMISSION). Default: no ACL.
   */
  aclFile?: string;
  /** How often the ACL file is looked at for changes (default 5000 ms). */
  aclReloadMs?: number;
  /** Accepted distance of a signed request's Timestamp from the name server's clock, either way (default 60000 ms). */
  aclReplayWindowMs?: number;
}

export interface NameServer {
  readonly id: string;
  readonly address: string;
  readonly actor: Actor<typeof nameServerMachine>;
  /** The current route table (a value: later changes do not alter it). */
  routeTable(): RouteTable;
  stop(): Promise<void>;
}

/** Starts a name server in `system`. */
export async function startNameServer(system: ActorSystem, opts: NameServerOptions): Promise<NameServer> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(opts.id)) throw new Error(`name server id "${opts.id}" must be 1-64 of [A-Za-z0-9_-]`);
  const address = namesrvAddress(opts.id);
  const env = system.env;
  const acl =
    opts.aclFile === undefined
      ? undefined
      : new AclGuard({
          storage: env.storage,
          path: opts.aclFile,
          clock: env.clock,
          logger: env.logger.child({ actor: address }),
          ...(opts.aclReloadMs !== undefined ? { reloadMs: opts.aclReloadMs } : {}),
          ...(opts.aclReplayWindowMs !== undefined ? { replayWindowMs: opts.aclReplayWindowMs } : {}),
        });
  const host = system.host({
    address,
    logic: nameServerMachine,
    input: (io) => ({ io, id: opts.id, brokerExpiryMs: opts.brokerExpiryMs ?? 120_000, scanIntervalMs: opts.scanIntervalMs ?? 10_000, ...(acl ? { acl } : {}) }),
  });
  system.provideStats(address, () => {
    const table = host.actor.getSnapshot().context.table;
    return { role: 'namesrv', brokers: table.live.size, topics: table.topics.size };
  });
  // listening is in place once the transport flushed: only then may brokers be asked to register
  await system.env.transport.flush();
  host.actor.send({ type: 'announce' });
  return {
    id: opts.id,
    address,
    actor: host.actor,
    routeTable: () => host.actor.getSnapshot().context.table,
    stop: async () => {
      acl?.stop();
      system.unhost(address);
    },
  };
}
