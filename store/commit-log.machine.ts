import { assign, fromPromise, setup, type AnyActorRef, type SnapshotFrom } from 'xstate';
import { Status } from '../core/status.js';
import type { CommitLog, PutResult } from './commit-log.js';
import type { PutMessage } from './commit-log-batch.js';

/** One batch for the commit log; `reply` gets its result (after the covering flush with sync flush). */
export interface AppendEvent {
  type: 'APPEND';
  batch: readonly PutMessage[];
  reply: (r: PutResult) => void;
}
export interface CloseEvent {
  type: 'CLOSE';
  /** Called once the log is flushed (when it can be) and closed. */
  done?: () => void;
}
/**
 * The store wrote a batch to the log itself (it does so while the machine serves, see `appendDirect`): the
 * machine looks again at whether a flush is due or the log failed. No payload.
 */
export interface WrittenEvent {
  type: 'WRITTEN';
}
export type CommitLogEvent = AppendEvent | CloseEvent | WrittenEvent;

export interface CommitLogInput {
  /** Built by the store; null until recovery has produced it. */
  log: CommitLog | null;
  /** Recovery: resolves with the commit log to serve. */
  recover: () => Promise<CommitLog>;
  /** Clean shutdown work after the last flush (checkpoint, closing files). */
  shutdown: (clean: boolean) => Promise<void>;
}

interface Context extends CommitLogInput {
  error: string | undefined;
  closeWaiters: Array<() => void>;
}

const refuse = (e: AppendEvent, status: number, message: string): void => e.reply({ status, message, results: [] });

/**
 * The commit log's lifecycle: recovering -> serving (idle / flushing, and with async flush a `scheduled`
 * state whose timer runs on the injected clock) -> closing -> closed; any storage failure -> failed, which
 * refuses every later batch. One APPEND event per batch; the data work is in CommitLog.
 */
export const commitLogMachine = setup({
  types: {
    context: {} as Context,
    input: {} as CommitLogInput,
    events: {} as CommitLogEvent,
  },
  actors: {
    recover: fromPromise<CommitLog, { recover: () => Promise<CommitLog> }>(({ input }) => input.recover()),
    flush: fromPromise<void, { log: CommitLog }>(({ input }) => input.log.flush()),
    shutdown: fromPromise<void, { log: CommitLog | null; clean: boolean; shutdown: (clean: boolean) => Promise<void> }>(async ({ input }) => {
      if (input.clean && input.log) await input.log.drain();
      input.log?.failWaiting(Status.SERVICE_NOT_AVAILABLE, 'store closed before the batch was flushed');
      await input.shutdown(input.clean && !input.log?.failed);
    }),
  },
  delays: {
    flushInterval: ({ context }) => context.log?.nextFlushDelayMs() ?? 1000,
  },
  guards: {
    failed: ({ context }) => context.log?.failed !== undefined,
    syncDirty: ({ context }) => context.log !== null && context.log.mode === 'sync' && (context.log.dirty || context.log.pendingAcks > 0),
    asyncDirty: ({ context }) => context.log !== null && context.log.mode === 'async' && context.log.dirty,
  },
  actions: {
    write: ({ context, event }) => {
      const e = event as AppendEvent;
      context.log!.append(e.batch, e.reply);
    },
    refuseRecovering: ({ event }) => refuse(event as AppendEvent, Status.SERVICE_NOT_AVAILABLE, 'store is recovering'),
    refuseClosed: ({ event }) => refuse(event as AppendEvent, Status.SERVICE_NOT_AVAILABLE, 'store is closed'),
    refuseFailed: ({ context, event }) =>
      refuse(event as AppendEvent, context.log?.failed?.status ?? Status.STORE_FAILED, `store failed: ${context.log?.failed?.message ?? context.error ?? 'unknown'}`),
    rememberCloser: assign({
      closeWaiters: ({ context, event }) => ((event as CloseEvent).done ? [...context.closeWaiters, (event as CloseEvent).done!] : context.closeWaiters),
    }),
    notifyClosers: ({ context }) => {
      for (const f of context.closeWaiters) f();
    },
  },
}).createMachine({
  id: 'commitLog',
  initial: 'recovering',
  context: ({ input }) => ({ ...input, error: undefined, closeWaiters: [] }),
  states: {
    recovering: {
      invoke: {
        src: 'recover',
        input: ({ context }) => ({ recover: context.recover }),
        onDone: { target: 'serving', actions: assign({ log: ({ event }) => event.output }) },
        onError: { target: 'failed', actions: assign({ error: ({ event }) => `recovery failed: ${String((event.error as Error)?.message ?? event.error)}` }) },
      },
      on: {
        APPEND: { actions: 'refuseRecovering' },
        CLOSE: { actions: 'rememberCloser' },
      },
    },
    serving: {
      initial: 'idle',
      always: { guard: 'failed', target: 'failed' },
      on: {
        APPEND: { actions: 'write' },
        // a targetless transition: the state's eventless transitions (failed, flush due) are looked at again
        WRITTEN: {},
        CLOSE: { target: 'closing', actions: 'rememberCloser' },
      },
      states: {
        idle: {
          always: [
            { guard: 'syncDirty', target: 'flushing' },
            { guard: 'asyncDirty', target: 'scheduled' },
          ],
        },
        scheduled: {
          after: { flushInterval: 'flushing' },
        },
        flushing: {
          invoke: {
            src: 'flush',
            input: ({ context }) => ({ log: context.log! }),
            onDone: 'idle',
            onError: { target: '#commitLog.failed', actions: assign({ error: ({ event }) => String((event.error as Error)?.message ?? event.error) }) },
          },
        },
      },
    },
    closing: {
      invoke: {
        src: 'shutdown',
        input: ({ context }) => ({ log: context.log, clean: true, shutdown: context.shutdown }),
        onDone: 'closed',
        onError: { target: 'closed', actions: assign({ error: ({ event }) => String((event.error as Error)?.message ?? event.error) }) },
      },
      on: {
        APPEND: { actions: 'refuseClosed' },
        CLOSE: { actions: 'rememberCloser' },
      },
    },
    failed: {
      on: {
        APPEND: { actions: 'refuseFailed' },
        CLOSE: { target: 'closingFailed', actions: 'rememberCloser' },
      },
    },
    closingFailed: {
      invoke: {
        src: 'shutdown',
        input: ({ context }) => ({ log: context.log, clean: false, shutdown: context.shutdown }),
        onDone: 'closed',
        onError: 'closed',
      },
      on: {
        APPEND: { actions: 'refuseClosed' },
        CLOSE: { actions: 'rememberCloser' },
      },
    },
    closed: {
      type: 'final',
      entry: 'notifyClosers',
      on: { APPEND: { actions: 'refuseClosed' } },
    },
  },
});

/**
 * Writes a batch straight to the serving commit log, or returns false (the caller then sends APPEND, which
 * refuses it with the state's reason). The machine hears of the write (WRITTEN, no payload) only when it
 * waits for one (idle) or when the write failed the log: one event per flush cycle instead of one per batch.
 *
 * Why not an APPEND event per batch: the batch then passes through the actor's event processing, and at
 * these rates that kept every batch alive past young-generation collections: broker messages were promoted to
 * the old generation instead of dying young, which made scavenges longer and cost throughput.
 */
export function appendDirect(actor: AnyActorRef, batch: readonly PutMessage[], reply: (r: PutResult) => void): boolean {
  const snap = actor.getSnapshot() as SnapshotFrom<typeof commitLogMachine>;
  const log = snap.context.log;
  const serving = servingState(snap.value);
  if (log === null || log.failed !== undefined || serving === undefined) return false;
  log.append(batch, reply);
  if (log.failed !== undefined || serving === 'idle') actor.send({ type: 'WRITTEN' });
  return true;
}

/**
 * Replication: appends records a master shipped for `offset` (CommitLog.appendReplica) straight to the serving
 * commit log, as appendDirect does for a batch; false when the log does not serve now (`reply` is not called).
 */
export function appendReplicaDirect(actor: AnyActorRef, offset: number, data: Uint8Array, reply: (r: PutResult) => void): boolean {
  const snap = actor.getSnapshot() as SnapshotFrom<typeof commitLogMachine>;
  const log = snap.context.log;
  const serving = servingState(snap.value);
  if (log === null || log.failed !== undefined || serving === undefined) return false;
  log.appendReplica(offset, data, reply);
  if (log.failed !== undefined || serving === 'idle') actor.send({ type: 'WRITTEN' });
  return true;
}

/**
 * The child of `serving` a state value is in, or undefined when not serving. Read off the value: `matches`
 * builds a state value object per call, and this runs once per batch.
 */
function servingState(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const child = (value as Record<string, unknown>).serving;
  return typeof child === 'string' ? child : undefined;
}
