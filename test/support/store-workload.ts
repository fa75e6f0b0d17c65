/**
 * The workload shared by the disk crash test and its child process (test/support/store-appender.ts): store
 * options and message bodies derived from a sequence number, so that whoever reopens the store can check
 * every message byte for byte without the child having to print the bodies.
 */

import type { Logger } from 'pino';
import { RealClock } from '../../core/clock.js';
import { CryptoRandom } from '../../core/random.js';
import type { StorageBackend } from '../../store/backend.js';
import { openMessageStore, type MessageStore, type PutMessage } from '../../store/message-store.js';

/** The store directory inside the root the disk backend is given. */
export const WORKLOAD_STORE_DIR = 'store';
export const WORKLOAD_TOPICS = ['T', 'U'] as const;
export const WORKLOAD_QUEUES = 3;
/** Small segments so the commit log rolls every few dozen batches. */
export const WORKLOAD_SEGMENT_SIZE = 64 * 1024;
export const WORKLOAD_STORE_HOST = '127.0.0.1:10911';

/** Opens the workload's store (sync flush, small segments and index files, frequent checkpoints). */
export function openWorkloadStore(storage: StorageBackend, logger: Logger): Promise<MessageStore> {
  return openMessageStore({
    dir: WORKLOAD_STORE_DIR,
    storage,
    clock: new RealClock(),
    random: new CryptoRandom(),
    logger,
    storeHost: WORKLOAD_STORE_HOST,
    flush: 'sync',
    segmentSize: WORKLOAD_SEGMENT_SIZE,
    consumeQueueEntriesPerFile: 64,
    indexEntriesPerFile: 128,
    checkpointIntervalMs: 20,
  });
}

export function uniqKeyOf(seq: number): string {
  return `s${seq}`;
}

/** The sequence number in a unique key made by uniqKeyOf, or undefined when it is not one. */
export function seqOfUniqKey(key: string | undefined): number | undefined {
  if (key === undefined || !/^s\d+$/.test(key)) return undefined;
  return Number(key.slice(1));
}

/** FNV-1a over bytes. */
function fnv1a(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/**
 * The body of message `seq`: seq (u32), length of the payload (u32), a pseudo-random payload of 0..1499 bytes
 * derived from seq, and an FNV-1a checksum (u32) over all of it.
 */
export function bodyOf(seq: number): Uint8Array {
  let h = (Math.imul(seq + 1, 0x9e3779b1) ^ 0x5bd1e995) | 0;
  const next = (): number => {
    h ^= h << 13;
    h ^= h >>> 17;
    h ^= h << 5;
    return h >>> 0;
  };
  const len = next() % 1500;
  const out = new Uint8Array(12 + len);
  const view = new DataView(out.buffer);
  view.setUint32(0, seq);
  view.setUint32(4, len);
  for (let i = 0; i < len; i++) out[8 + i] = next() & 0xff;
  view.setUint32(8 + len, fnv1a(out, 0, 8 + len));
  return out;
}

/** The topic and queue of message `seq` (spread over every queue, fixed per seq). */
export function placeOf(seq: number): { topic: string; queueId: number } {
  const k = Math.imul(seq, 0x2545f491) >>> 0;
  return { topic: WORKLOAD_TOPICS[k % WORKLOAD_TOPICS.length]!, queueId: (k >>> 8) % WORKLOAD_QUEUES };
}

export function messageOf(seq: number, bornTimestamp: number): PutMessage {
  return {
    ...placeOf(seq),
    body: bodyOf(seq),
    keys: [`k${seq % 50}`],
    properties: { UNIQ_KEY: uniqKeyOf(seq) },
    bornTimestamp,
    bornHost: '127.0.0.1:5555',
  };
}

/** One acknowledged message as the child reports it. */
export interface AckedMessage {
  seq: number;
  topic: string;
  queueId: number;
  queueOffset: number;
  commitLogOffset: number;
  msgId: string;
}

/**
 * The child's stdout protocol, one JSON object per line: `{"ready":{pid}}` once the store is open, then
 * `{"acked":[[seq, queueOffset, commitLogOffset, msgId], ...]}` per acknowledged batch (topic and queue
 * follow from seq), and `{"closed":true}` when it stops on its own.
 */
export type AckedLine = [seq: number, queueOffset: number, commitLogOffset: number, msgId: string];

export function ackedFromLine(line: AckedLine): AckedMessage {
  const [seq, queueOffset, commitLogOffset, msgId] = line;
  return { seq, ...placeOf(seq), queueOffset, commitLogOffset, msgId };
}
