/**
 * Opening a store in either mode: 'mixed' (the default: one commit log for every queue, as RocketMQ;
 * message-store.ts) or 'per-queue' (a log per queue; per-queue-store.ts). Both answer the same MessageStore.
 */
import { openMessageStore, type MessageStore, type MessageStoreOptions, type StoreMode } from './message-store.js';
import { openPerQueueStore } from './per-queue-store.js';

export type { StoreMode } from './message-store.js';
export const STORE_MODES: readonly StoreMode[] = ['mixed', 'per-queue'];

export interface StoreOptions extends MessageStoreOptions {
  /** One commit log for every queue ('mixed', the default) or a log per queue ('per-queue'). */
  storeMode?: StoreMode;
}

export function openStore(opts: StoreOptions): Promise<MessageStore> {
  return opts.storeMode === 'per-queue' ? openPerQueueStore(opts) : openMessageStore(opts);
}
