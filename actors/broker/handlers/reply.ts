import { encodeRecordBatch } from '../../../core/record-batch.js';
import { utf8Length } from '../../../core/bytes.js';
import { Status, StatusError } from '../../../core/status.js';
import { messageIdPrefix } from '../../../store/message-id.js';
import { encodedLength } from '../../../transports/codec.js';
import { FrameKind, type Frame } from '../../../transports/frame.js';
import { errorReply } from '../../protocol/replies.js';
import { RequestCode, requestCodeName } from '../../protocol/request-codes.js';
import { rewritePropertyMargin, type RecordBound } from '../put-message.js';
import type { BrokerContext } from './context.js';

/**
 * Replies and the transport's frame limit: the error reply of a failed request, the one way every reply
 * leaves (a reply the transport cannot carry becomes an error reply; a reply that cannot be sent is logged,
 * never thrown), and how large a record may be so that a pull reply of it fits the limit.
 */

/** The error reply for what a request threw: a StatusError keeps its status; anything else is SYSTEM_ERROR, logged. */
export function errorFrame(ctx: BrokerContext, request: Frame, err: unknown): Frame {
  if (err instanceof StatusError) return errorReply(request, err.status, err.message);
  ctx.logger.error({ err, code: requestCodeName(request.code) }, 'request failed');
  return errorReply(request, Status.SYSTEM_ERROR, err instanceof Error ? err.message : String(err));
}

/** Header bytes a reply may take beyond its body before its encoded size is worth measuring. */
const HEADER_SLACK = 4096;

/** Whether `f` encodes to at most `maxPayload` bytes (measured only when its body comes near). */
export function fitsFrame(f: Frame, maxPayload: number): boolean {
  return f.body.length + HEADER_SLACK <= maxPayload || encodedLength(f) <= maxPayload;
}

/**
 * Sends `out` in answer to `request`. A reply larger than the transport's frame limit goes as a
 * PAYLOAD_TOO_LARGE error reply instead (the requester hears why rather than timing out); a reply the
 * transport refuses (closed, gone) is logged. Never throws. Returns the status of the reply it sent (or tried to).
 */
export function sendReply(ctx: BrokerContext, request: Frame, reply: (f: Frame) => void, out: Frame): number {
  try {
    const max = ctx.maxPayload();
    if (!fitsFrame(out, max)) {
      const size = encodedLength(out);
      ctx.logger.warn({ code: requestCodeName(request.code), bytes: size, maxPayload: max }, 'reply larger than the frame limit; answered with an error');
      out = errorReply(request, Status.PAYLOAD_TOO_LARGE, `the reply takes ${size} bytes, more than the transport's frame limit of ${max} bytes`);
    }
    reply(out);
  } catch (err) {
    ctx.logger.warn({ err, code: requestCodeName(request.code) }, 'could not send a reply');
  }
  return out.status;
}

/** Bytes a FOUND pull reply takes besides its records: the frame with its header at its widest, and the record batch header. */
export function pullReplyOverhead(msgIdPrefix: string): number {
  const widest = Number.MAX_SAFE_INTEGER;
  const frame = encodedLength({
    kind: FrameKind.Reply,
    code: RequestCode.PULL_MESSAGE,
    requestId: 0xffffffff,
    status: Status.OK,
    header: { pullStatus: 'FOUND', nextBeginOffset: widest, minOffset: widest, maxOffset: widest },
    body: new Uint8Array(0),
  });
  return frame + encodeRecordBatch([], [], 0, Buffer.from(msgIdPrefix, 'latin1')).length;
}

/** The record bound of a broker for a frame limit (its store host is its address). */
export function recordBoundFor(storeHost: string, maxPayload: number): RecordBound {
  const prefix = messageIdPrefix(storeHost);
  return {
    storeHostBytes: utf8Length(storeHost),
    propertyMargin: rewritePropertyMargin(prefix.length + 16),
    maxRecordBytes: maxPayload - pullReplyOverhead(prefix),
    maxPayload,
  };
}

const bounds = new WeakMap<BrokerContext, RecordBound>();

/** How large a record of this broker may be now (kept while the transport's frame limit stays the same). */
export function recordBound(ctx: BrokerContext): RecordBound {
  const maxPayload = ctx.maxPayload();
  let b = bounds.get(ctx);
  if (b === undefined || b.maxPayload !== maxPayload) bounds.set(ctx, (b = recordBoundFor(ctx.address, maxPayload)));
  return b;
}
