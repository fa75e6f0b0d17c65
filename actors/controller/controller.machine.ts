import { assign, setup } from 'xstate';
import type { ActorIo, FrameEvent } from '../runtime/actor-host.js';
import type { StorageBackend } from '../../store/backend.js';
import { Status } from '../../core/status.js';
import { errorReply } from '../protocol/replies.js';
import type { ControllerSettings, GroupState } from '../protocol/ha-controller.js';
import { handleControllerRequest } from './controller-requests.js';
import { durableKey, saveControllerState } from './controller-state.js';

export interface ControllerInput {
  io: ActorIo;
  storage: StorageBackend;
  /** Where the controller keeps its state (controller.json). */
  dir: string;
  settings: ControllerSettings;
  groups: ReadonlyMap<string, GroupState>;
}

interface ControllerContext extends ControllerInput {
  /** Writes of the durable state, one after another; every answer goes out after the writes before it. */
  writes: { chain: Promise<void> };
}

/**
 * The HA controller (memory transport and scenarios; on NATS the brokers use a JetStream KV entry instead): one
 * state, `serving`, answering heartbeats and in-sync changes with the pure rules of ha-controller.ts. A change
 * of a group's epoch, master or in-sync set is written to its directory before any answer that shows it leaves.
 */
export const controllerMachine = setup({
  types: {} as { context: ControllerContext; input: ControllerInput; events: FrameEvent | { type: 'stop' } },
  actions: {
    answer: assign(({ context, event }) => {
      const e = event as FrameEvent;
      const r = handleControllerRequest(context.groups, e.frame, context.io.clock.now(), context.settings);
      const before = r.changed && context.groups.get(r.changed.brokerName);
      const durable = r.changed !== undefined && (before === undefined || durableKey(before) !== durableKey(r.changed));
      if (r.elected !== undefined) context.io.logger.warn({ group: r.changed?.brokerName, master: r.elected, epoch: r.changed?.epoch }, 'elected a master');
      const w = context.writes;
      if (durable) {
        const snapshot = [...r.groups.values()];
        w.chain = w.chain.then(() => saveControllerState(context.storage, context.dir, snapshot));
      }
      w.chain = w.chain.then(
        () => e.reply?.(r.reply),
        (err: unknown) => {
          context.io.logger.error({ err }, 'could not write the controller state; the answer is withheld');
          e.reply?.(errorReply(e.frame, Status.SYSTEM_ERROR, 'the controller could not write its state'));
        },
      );
      return { groups: r.groups };
    }),
  },
}).createMachine({
  id: 'controller',
  context: ({ input }) => ({ ...input, writes: { chain: Promise.resolve() } }),
  initial: 'serving',
  states: {
    serving: {
      on: {
        frame: { actions: 'answer' },
        stop: 'stopped',
      },
    },
    stopped: { type: 'final' },
  },
});
