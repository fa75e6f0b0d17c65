import type { ActorIo } from '../runtime/actor-host.js';
import type { ActorSystem } from '../runtime/system.js';
import { clientAddress } from '../protocol/commands.js';
import { Status, StatusError } from '../../core/status.js';
import { waitForState, type ClientLifecycle } from './lifecycle.js';
import { clientMachine } from './client.machine.js';
import type { Credentials } from '../protocol/acl/signing.js';
import { checkCredentials, signedIo } from '../runtime/signed-io.js';

/**
 * Hosting of a client (producer or consumer) in an actor system, shared by both roles: the client machine at
 * `clientAddress(clientId)`, the role's plain code built from the host's io, the wait for `running` (a failed
 * start unhosts the client and throws), and the stop that drains the machine and unhosts it.
 */

export interface ClientHostingSpec<T extends ClientLifecycle> {
  /** Names the client in errors: `<role> <clientId> failed to start`. */
  role: string;
  clientId: string;
  /** Task name -> interval in ms of the machine's ticker (0 or less: the task does not run). */
  intervals: Record<string, number>;
  /** Builds the client's plain code; called once, while the machine is already starting (its start hook waits). */
  build(io: ActorIo): T;
  /** Clean-up after a failed start, once the client is unhosted. */
  onFailedStart?(core: T): void;
  /** When given, every request and one-way frame the client sends is signed with them (ACL). */
  credentials?: Credentials;
}

export interface HostedClient<T extends ClientLifecycle> {
  /** What `build` returned. */
  readonly core: T;
  /** Stops the machine (its drain runs) and unhosts the client. */
  stop(): Promise<void>;
}

/** Hosts a client in `system` and resolves once it runs (StatusError(SERVICE_NOT_AVAILABLE) if it fails to start). */
export async function hostClient<T extends ClientLifecycle>(system: ActorSystem, spec: ClientHostingSpec<T>): Promise<HostedClient<T>> {
  const credentials = checkCredentials(spec.credentials);
  let core!: T;
  let ready!: () => void;
  const built = new Promise<void>((resolve) => (ready = resolve));
  const lifecycle: ClientLifecycle = {
    start: async () => {
      await built; // the machine starts while it is being hosted, before `core` exists
      await core.start();
    },
    tick: (task) => core.tick(task),
    onFrame: (frame, reply) => core.onFrame(frame, reply),
    drain: () => core.drain(),
  };
  const host = system.host({
    address: clientAddress(spec.clientId),
    logic: clientMachine,
    input: (io) => ({ io, core: lifecycle, intervals: spec.intervals }),
  });
  core = spec.build(signedIo(host.io, credentials));
  ready();
  const state = await waitForState(host.actor, (v) => v === 'running');
  if (state !== 'running') {
    system.unhost(host.address);
    spec.onFailedStart?.(core);
    throw new StatusError(Status.SERVICE_NOT_AVAILABLE, `${spec.role} ${spec.clientId} failed to start: ${host.actor.getSnapshot().context.error ?? String(state)}`);
  }
  return {
    core,
    stop: async () => {
      if (host.actor.getSnapshot().status === 'active') host.actor.send({ type: 'stop' });
      await waitForState(host.actor, (v) => v === 'stopped' || v === 'failed');
      system.unhost(host.address);
    },
  };
}
