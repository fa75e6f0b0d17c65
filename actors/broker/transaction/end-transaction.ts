import type { Frame } from '../../../transports/frame.js';
import type { EndTransactionReplyHeader } from '../../protocol/commands.js';
import { headerInt, headerString, okReply } from '../../protocol/replies.js';
import { Status, StatusError } from '../../protocol/status.js';
import { validateGroup } from '../../protocol/validation.js';
import type { BrokerContext } from '../handlers/context.js';

/** END_TRANSACTION: commits or rolls back a half message (see TransactionService). */
export async function handleEndTransaction(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const tx = ctx.timerTx?.transactions;
  if (!tx) throw new StatusError(Status.SERVICE_NOT_AVAILABLE, `broker ${ctx.brokerName} does not serve transactions yet`);
  const producerGroup = headerString(frame, 'producerGroup');
  validateGroup(producerGroup);
  const msgId = headerString(frame, 'msgId');
  const halfOffset = headerInt(frame, 'halfOffset');
  if (halfOffset < 0) throw new StatusError(Status.INVALID_ARGUMENT, `halfOffset must not be negative, got ${halfOffset}`);
  const state = headerString(frame, 'transactionState');
  if (state !== 'COMMIT' && state !== 'ROLLBACK' && state !== 'UNKNOWN')
    throw new StatusError(Status.INVALID_ARGUMENT, `transactionState must be COMMIT, ROLLBACK or UNKNOWN, got "${state}"`);
  const fromCheck = frame.header.fromTransactionCheck === true;
  const outcome = await tx.end({ halfOffset, msgId, producerGroup, state, fromCheck });
  if (fromCheck || outcome === 'ALREADY_RESOLVED') ctx.logger.debug({ msgId, state, outcome, fromCheck }, 'transaction ended');
  const header: EndTransactionReplyHeader = { outcome };
  return okReply(frame, { ...header });
}
