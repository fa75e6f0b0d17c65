import type { Frame } from '../../../transports/frame.js';
import type { EndTransactionReplyHeader } from '../../protocol/commands.js';
import { headerInt, headerString, okReply } from '../../protocol/replies.js';
import { Status, StatusError } from '../../../core/status.js';
import { validateGroup } from '../../protocol/validation.js';
import type { BrokerContext } from '../handlers/context.js';
import { decodeEndBatch } from '../../protocol/end-batch.js';
import type { EndOutcome } from './transaction-service.js';

/**
 * END_TRANSACTION: commits or rolls back a half message (see TransactionService). With a `batch` header the
 * body holds many outcomes of one producer group (see end-batch.ts); the reply's `outcomes` then lists each
 * one's outcome (or ERROR), comma-separated, in order.
 */
export async function handleEndTransaction(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const tx = ctx.timerTx?.transactions;
  if (!tx) throw new StatusError(Status.SERVICE_NOT_AVAILABLE, `broker ${ctx.brokerName} does not serve transactions yet`);
  const producerGroup = headerString(frame, 'producerGroup');
  validateGroup(producerGroup);
  if (frame.header.batch !== undefined) {
    const entries = decodeEndBatch(frame.body, headerInt(frame, 'batch'));
    const outcomes = await Promise.all(
      entries.map((e) =>
        tx.end({ halfOffset: e.halfOffset, msgId: e.msgId, producerGroup, state: e.state, fromCheck: false }).catch((err: unknown): 'ERROR' => {
          ctx.logger.warn({ err, msgId: e.msgId, state: e.state }, 'could not end a transaction (a check settles it)');
          return 'ERROR';
        }),
      ),
    );
    return okReply(frame, { outcomes: outcomes.join(',') });
  }
  const msgId = headerString(frame, 'msgId');
  const halfOffset = headerInt(frame, 'halfOffset');
  if (halfOffset < 0) throw new StatusError(Status.INVALID_ARGUMENT, `halfOffset must not be negative, got ${halfOffset}`);
  const state = headerString(frame, 'transactionState');
  if (state !== 'COMMIT' && state !== 'ROLLBACK' && state !== 'UNKNOWN')
    throw new StatusError(Status.INVALID_ARGUMENT, `transactionState must be COMMIT, ROLLBACK or UNKNOWN, got "${state}"`);
  const fromCheck = frame.header.fromTransactionCheck === true;
  const outcome: EndOutcome = await tx.end({ halfOffset, msgId, producerGroup, state, fromCheck });
  if (fromCheck || outcome === 'ALREADY_RESOLVED') ctx.logger.debug({ msgId, state, outcome, fromCheck }, 'transaction ended');
  const header: EndTransactionReplyHeader = { outcome };
  return okReply(frame, { ...header });
}
