import { Status, StatusError } from '../../core/status.js';

/**
 * Many END_TRANSACTIONs in one frame (pure codec): a producer sends the outcomes of the transactions it ends
 * in one turn to one broker together (header `batch` = how many, `producerGroup` once), one line per
 * outcome in the body: `STATE<TAB>halfOffset<TAB>msgId`, lines separated by LF.
 */

export type EndState = 'COMMIT' | 'ROLLBACK' | 'UNKNOWN';

export interface EndEntry {
  msgId: string;
  halfOffset: number;
  state: EndState;
}

/** Most outcomes in one frame. */
export const MAX_END_BATCH = 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const MSG_ID = /^[A-Za-z0-9_.:-]{1,1024}$/;
const OFFSET = /^\d{1,16}$/;

function checkEntry(e: EndEntry): void {
  if (e.state !== 'COMMIT' && e.state !== 'ROLLBACK' && e.state !== 'UNKNOWN') throw new StatusError(Status.INVALID_ARGUMENT, `transaction state must be COMMIT, ROLLBACK or UNKNOWN, got "${String(e.state)}"`);
  if (!Number.isSafeInteger(e.halfOffset) || e.halfOffset < 0) throw new StatusError(Status.INVALID_ARGUMENT, `halfOffset must be a non-negative integer, got ${e.halfOffset}`);
  if (!MSG_ID.test(e.msgId)) throw new StatusError(Status.INVALID_ARGUMENT, `bad message id "${e.msgId}" in a transaction outcome`);
}

/** The body of a batch of outcomes (1 to MAX_END_BATCH); INVALID_ARGUMENT for a bad entry. */
export function encodeEndBatch(entries: readonly EndEntry[]): Uint8Array {
  if (entries.length === 0 || entries.length > MAX_END_BATCH) throw new StatusError(Status.INVALID_ARGUMENT, `an END_TRANSACTION batch holds 1 to ${MAX_END_BATCH} outcomes, got ${entries.length}`);
  let text = '';
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    checkEntry(e);
    text += (i === 0 ? '' : '\n') + e.state + '\t' + e.halfOffset + '\t' + e.msgId;
  }
  return encoder.encode(text);
}

/** The outcomes of a batch body; BAD_FRAME when it is malformed or does not hold `count` of them. */
export function decodeEndBatch(body: Uint8Array, count: number): EndEntry[] {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_END_BATCH) throw new StatusError(Status.BAD_FRAME, `an END_TRANSACTION batch holds 1 to ${MAX_END_BATCH} outcomes, got ${count}`);
  let text: string;
  try {
    text = decoder.decode(body);
  } catch {
    throw new StatusError(Status.BAD_FRAME, 'an END_TRANSACTION batch is not UTF-8');
  }
  const lines = text.split('\n');
  if (lines.length !== count) throw new StatusError(Status.BAD_FRAME, `an END_TRANSACTION batch says ${count} outcomes and holds ${lines.length}`);
  const out: EndEntry[] = new Array<EndEntry>(count);
  for (let i = 0; i < count; i++) {
    const f = lines[i]!.split('\t');
    const state = f[0];
    if (f.length !== 3 || (state !== 'COMMIT' && state !== 'ROLLBACK' && state !== 'UNKNOWN') || !OFFSET.test(f[1]!) || !MSG_ID.test(f[2]!))
      throw new StatusError(Status.BAD_FRAME, `malformed outcome ${i} in an END_TRANSACTION batch`);
    out[i] = { state, halfOffset: Number(f[1]), msgId: f[2]! };
  }
  return out;
}
