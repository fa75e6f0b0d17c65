import { createActor, type InspectionEvent } from 'xstate';
import { Status } from '../../core/status.js';
import type { CommitLog, PutResult } from '../../store/commit-log.js';
import type { PutMessage } from '../../store/commit-log-batch.js';
import { appendDirect, commitLogMachine } from '../../store/commit-log.machine.js';

/** A commit log stand-in: counts what it is given, dirty until flushed, failing on demand. */
function fakeLog(mode: 'sync' | 'async') {
  const state = { appended: 0, flushes: 0, dirty: false, failed: undefined as { status: number; message: string } | undefined, failNext: false };
  const log = {
    mode,
    flushIntervalMs: 100,
    nextFlushDelayMs: () => 100,
    get dirty() {
      return state.dirty;
    },
    pendingAcks: 0,
    get failed() {
      return state.failed;
    },
    append(batch: readonly PutMessage[], reply: (r: PutResult) => void) {
      if (state.failNext) {
        state.failed = { status: Status.STORE_FAILED, message: 'EIO' };
        reply({ status: Status.STORE_FAILED, message: 'EIO', results: [] });
        return 'failed';
      }
      state.appended += batch.length;
      state.dirty = true;
      reply({ status: Status.OK, results: [] });
      return 'written';
    },
    async flush() {
      state.flushes++;
      state.dirty = false;
    },
    async drain() {},
    failWaiting() {},
  };
  return { state, log: log as unknown as CommitLog };
}

async function serving(mode: 'sync' | 'async') {
  const { state, log } = fakeLog(mode);
  const events: string[] = [];
  const actor = createActor(commitLogMachine, {
    input: { log: null, recover: async () => log, shutdown: async () => {} },
    inspect: (e: InspectionEvent) => {
      if (e.type === '@xstate.event' && e.actorRef === actor) events.push(e.event.type);
    },
  });
  actor.start();
  await new Promise((r) => setTimeout(r, 0));
  expect(actor.getSnapshot().matches('serving')).toBe(true);
  events.length = 0;
  return { state, actor, events };
}

const batch = (n: number): PutMessage[] => Array.from({ length: n }, () => ({ topic: 'T', queueId: 0, body: new Uint8Array(1), bornTimestamp: 0, bornHost: 'h' }));

describe('appendDirect (batches past the commit log machine while it serves)', () => {
  it('writes every batch, and the machine hears one payload-free event per flush cycle, not one per batch', async () => {
    const { state, actor, events } = await serving('async');
    const replies: number[] = [];
    for (let i = 0; i < 50; i++) expect(appendDirect(actor, batch(4), (r) => replies.push(r.status))).toBe(true);
    expect(state.appended).toBe(200);
    expect(replies).toHaveLength(50);
    expect(events).toEqual(['WRITTEN']); // idle -> scheduled on the first; the others find a flush already due
    expect(actor.getSnapshot().matches({ serving: 'scheduled' })).toBe(true);
    actor.stop();
  });

  it('sync flush: a write while idle starts a flush, and the flush picks up what came meanwhile', async () => {
    const { state, actor, events } = await serving('sync');
    appendDirect(actor, batch(1), () => undefined);
    expect(actor.getSnapshot().matches({ serving: 'flushing' })).toBe(true);
    appendDirect(actor, batch(1), () => undefined);
    await new Promise((r) => setTimeout(r, 0));
    expect(state.flushes).toBeGreaterThanOrEqual(1);
    expect(events.filter((e) => e === 'WRITTEN')).toHaveLength(1);
    actor.stop();
  });

  it('a write that fails the log moves the machine to failed; later batches go the refusing way (false)', async () => {
    const { state, actor } = await serving('async');
    state.failNext = true;
    let status = -1;
    expect(appendDirect(actor, batch(1), (r) => (status = r.status))).toBe(true);
    expect(status).toBe(Status.STORE_FAILED);
    expect(actor.getSnapshot().matches('failed')).toBe(true);
    expect(appendDirect(actor, batch(1), () => undefined)).toBe(false);
    actor.stop();
  });

  it('returns false while recovering (the APPEND event then refuses the batch)', () => {
    const actor = createActor(commitLogMachine, { input: { log: null, recover: () => new Promise<CommitLog>(() => undefined), shutdown: async () => {} } });
    actor.start();
    expect(appendDirect(actor, batch(1), () => undefined)).toBe(false);
    actor.stop();
  });
});
