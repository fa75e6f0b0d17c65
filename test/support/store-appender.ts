/**
 * Child process for the disk crash test (run from the build: dist/test/support/store-appender.js).
 *
 *   node store-appender.js ROOT START_SEQ MAX_MS
 *
 * Opens the workload store (test/support/store-workload.ts) on the real disk under ROOT with sync flush, then
 * appends batches of messages START_SEQ, START_SEQ+1, ... from a few concurrent writers as fast as it can.
 * It prints one line per batch only after putMessages resolved with OK (see AckedLine), so every printed
 * message is acknowledged. It stops on its own after MAX_MS (closing the store) unless it is killed first.
 * When the store cannot be opened it prints the error to stderr and exits with code 2.
 */

import { rootLogger } from '../../actors/runtime/environment.js';
import { Status } from '../../core/status.js';
import { diskStorage } from '../../store/backends/disk.js';
import type { MessageStore } from '../../store/message-store.js';
import { messageOf, openWorkloadStore, type AckedLine } from './store-workload.js';

const WRITERS = 4;
const MAX_BATCH = 16;

function out(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

async function writer(store: MessageStore, next: () => number, until: number): Promise<void> {
  while (Date.now() < until) {
    const first = next();
    const count = 1 + (first % MAX_BATCH);
    const seqs = [first];
    for (let i = 1; i < count; i++) seqs.push(next());
    const now = Date.now();
    const r = await store.putMessages(seqs.map((s) => messageOf(s, now)));
    if (r.status !== Status.OK) {
      process.stderr.write(`batch ${first} refused: ${r.status} ${r.message ?? ''}\n`);
      continue;
    }
    const lines: AckedLine[] = r.results.map((x, i) => [seqs[i]!, x.queueOffset, x.commitLogOffset, x.msgId]);
    out({ acked: lines });
  }
}

async function main(): Promise<void> {
  const [root, startArg, maxArg] = process.argv.slice(2);
  const start = Number(startArg);
  const maxMs = Number(maxArg ?? 5000);
  if (!root || !Number.isSafeInteger(start) || start < 0 || !Number.isFinite(maxMs)) {
    process.stderr.write('usage: store-appender ROOT START_SEQ [MAX_MS]\n');
    process.exit(64);
  }
  let store: MessageStore;
  try {
    store = await openWorkloadStore(diskStorage(root), rootLogger('silent'));
  } catch (err) {
    process.stderr.write(`open failed: ${(err as Error).message}\n`);
    process.exit(2);
  }
  out({ ready: process.pid });
  let seq = start;
  const next = (): number => seq++;
  const until = Date.now() + maxMs;
  await Promise.all(Array.from({ length: WRITERS }, () => writer(store, next, until)));
  await store.close();
  out({ closed: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`store-appender failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
