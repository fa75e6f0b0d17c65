import { assign, setup } from 'xstate';
import type { ActorIo, FrameEvent } from '../runtime/actor-host.js';
import { NAMESRV_STARTED_SUBJECT, type NamesrvStartedHeader } from '../protocol/commands.js';
import { oneWay } from '../protocol/replies.js';
import { RequestCode } from '../protocol/request-codes.js';
import { Status } from '../../core/status.js';
import { emptyRouteTable, scanExpired, type RouteTable } from './route-table.js';
import { handleNamesrvRequest } from './namesrv-requests.js';
import type { AclGuard } from '../runtime/acl-guard.js';
import { expirePending, NO_PENDING, PENDING_REGISTRATION_MAX_AGE_MS, type PendingRegistrations } from './register-parts.js';

export interface NameServerInput {
  io: ActorIo;
  /** The name server's id, which its start announcement carries. */
  id: string;
  /** Brokers not heard from for this long are dropped from the routes. */
  brokerExpiryMs: number;
  /** How often the expiry scan runs. */
  scanIntervalMs: number;
  /** The ACL, when the name server has an ACL file. */
  acl?: AclGuard;
}

interface NameServerContext extends NameServerInput {
  table: RouteTable;
  /** Registrations in parts not finished yet. */
  pending: PendingRegistrations;
}

/**
 * A name server: one state, `serving`, that answers route requests from its table and drops silent brokers
 * on a periodic scan. Name servers are independent of each other; brokers register with every one. Once it
 * listens (`announce`, sent by startNameServer) it broadcasts its start, and the brokers given its id
 * register at once instead of at their next register interval.
 */
export const nameServerMachine = setup({
  types: {} as { context: NameServerContext; input: NameServerInput; events: FrameEvent | { type: 'announce' } | { type: 'stop' } },
  actions: {
    announce: ({ context }) => {
      const header: NamesrvStartedHeader = { namesrvId: context.id };
      try {
        context.io.publish(NAMESRV_STARTED_SUBJECT, oneWay(RequestCode.NAMESRV_STARTED, { ...header }));
      } catch (err) {
        // brokers still register at their next retry or interval
        context.io.logger.warn({ err }, 'could not announce the start to brokers');
      }
    },
    answer: assign(({ context, event }) => {
      const e = event as FrameEvent;
      const acl = context.acl;
      const r = handleNamesrvRequest(context.table, e.frame, context.io.clock.now(), context.pending, acl && ((f) => acl.check(f)));
      if (r.reply.status === Status.NO_PERMISSION) context.io.logger.info({ code: e.frame.code, reason: r.reply.header.error }, 'request refused by the ACL');
      e.reply?.(r.reply);
      if (r.changed) context.io.logger.info({ code: e.frame.code, header: e.frame.header }, 'routes changed');
      return { table: r.table, pending: r.pending };
    }),
    scan: assign(({ context }) => {
      const r = scanExpired(context.table, context.io.clock.now(), context.brokerExpiryMs);
      if (r.removed.length > 0) context.io.logger.warn({ removed: r.removed }, 'brokers expired');
      return { table: r.table, pending: expirePending(context.pending, context.io.clock.now(), PENDING_REGISTRATION_MAX_AGE_MS) };
    }),
  },
  delays: {
    scanInterval: ({ context }) => context.scanIntervalMs,
  },
}).createMachine({
  id: 'namesrv',
  context: ({ input }) => ({ ...input, table: emptyRouteTable(), pending: NO_PENDING }),
  initial: 'serving',
  states: {
    serving: {
      on: {
        frame: { actions: 'answer' },
        announce: { actions: 'announce' },
        stop: 'stopped',
      },
      after: { scanInterval: { target: 'serving', reenter: true, actions: 'scan' } },
    },
    stopped: { type: 'final' },
  },
});
