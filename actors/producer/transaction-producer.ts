import type { Frame } from '../../transports/frame.js';
import type { ActorSystem } from '../runtime/system.js';
import type { CheckTransactionStateHeader, EndTransactionHeader } from '../protocol/commands.js';
import { MessageProperty, type Message, type MessageExt, type SendResult } from '../../core/message.js';
import { decodeMessageExtBatch } from '../../core/message-codec.js';
import { RequestCode } from '../protocol/request-codes.js';
import { expectOk, oneWay, request } from '../protocol/replies.js';
import { Status, StatusError } from '../../core/status.js';
import { validateMessage } from '../protocol/validation.js';
import { encodeEndBatch, MAX_END_BATCH, type EndEntry } from '../protocol/end-batch.js';
import { startProducer, type Producer, type ProducerOptions, type ProducerParts } from './producer.js';

/**
 * The transactional producer (RocketMQ's TransactionMQProducer): `sendInTransaction` sends a half message
 * (invisible to consumers), runs the local transaction, and tells the broker its outcome with
 * END_TRANSACTION. When the outcome never arrives (UNKNOWN, a crash, a lost frame) the broker asks a live
 * producer of the group with CHECK_TRANSACTION_STATE; the `checkListener` answers.
 */

export type TxState = 'COMMIT' | 'ROLLBACK' | 'UNKNOWN';
export type CheckListener = (msg: MessageExt) => Promise<TxState> | TxState;
export type LocalTransaction = (msg: Message, sendResult: SendResult) => Promise<TxState> | TxState;

export interface TransactionProducerOptions extends ProducerOptions {
  /** Answers the broker's checks of half messages of this group whose outcome it does not know. */
  checkListener: CheckListener;
  /** Topics whose brokers learn of this producer at once (heartbeat at start), so it can answer their checks. */
  topics?: string[];
  /**
   * 'oneway' (default, as RocketMQ) sends END_TRANSACTION without waiting (a lost one is settled by a check;
   * the outcomes of the transactions ended in one turn go to each broker in one frame);
   * 'request' waits for the broker's answer (failures are logged; the check settles them too).
   */
  endMode?: 'request' | 'oneway';
  /** Most checks answered at once; more are dropped (the broker asks again). Default 64. */
  maxConcurrentChecks?: number;
}

export interface TransactionResult {
  sendResult: SendResult;
  state: TxState;
}

export interface TransactionProducer extends Producer {
  /** Sends `msg` as a half message, runs `local`, and commits or rolls back by its answer. */
  sendInTransaction(msg: Message, local: LocalTransaction): Promise<TransactionResult>;
}

/** The END_TRANSACTION header for a half message's outcome (pure). */
export function endTransactionHeader(group: string, sent: { msgId: string; queueOffset: number; transactionId?: string }, state: TxState, fromCheck: boolean): EndTransactionHeader {
  const h: EndTransactionHeader = { producerGroup: group, msgId: sent.msgId, halfOffset: sent.queueOffset, transactionState: state, fromTransactionCheck: fromCheck };
  if (sent.transactionId !== undefined) h.transactionId = sent.transactionId;
  return h;
}

/** The half message for `msg`: TRAN_MSG and the producer group set. MESSAGE_ILLEGAL for a delayed message. */
export function halfMessageOf(msg: Message, group: string): Message {
  if (msg.delayLevel || msg.deliverAt !== undefined) throw new StatusError(Status.MESSAGE_ILLEGAL, 'a transactional message may not be delayed (delayLevel or deliverAt)');
  const properties: Record<string, string> = msg.properties === undefined ? {} : { ...msg.properties };
  properties[MessageProperty.TRAN_MSG] = 'true';
  properties[MessageProperty.PRODUCER_GROUP] = group;
  return { ...msg, properties };
}

function normalize(state: unknown): TxState {
  return state === 'COMMIT' || state === 'ROLLBACK' ? state : 'UNKNOWN';
}

/** Hosts a transactional producer in `system` (an ActorSystem, or an MqSystem's `actors`) and starts it. */
export async function startTransactionProducer(system: ActorSystem | { actors: ActorSystem }, opts: TransactionProducerOptions): Promise<TransactionProducer> {
  if (typeof opts.checkListener !== 'function') throw new StatusError(Status.INVALID_ARGUMENT, 'a transactional producer needs a checkListener');
  const actors = 'actors' in system ? system.actors : system;
  const maxChecks = opts.maxConcurrentChecks ?? 64;
  const endMode = opts.endMode ?? 'oneway';
  let parts: ProducerParts | undefined;
  let checksRunning = 0;
  let stopping = false;
  let running = 0;
  let idle: (() => void) | undefined;
  const heartbeated = new Set<string>();
  /** One-way outcomes of this turn, by broker address: sent together at the end of the turn. */
  const ends = new Map<string, EndEntry[]>();
  let endsScheduled = false;

  const flushEnds = (): void => {
    endsScheduled = false;
    const client = parts!.client;
    for (const [addr, list] of ends) {
      for (let i = 0; i < list.length; i += MAX_END_BATCH) {
        const chunk = list.length <= MAX_END_BATCH ? list : list.slice(i, i + MAX_END_BATCH);
        try {
          client.io.send(addr, oneWay(RequestCode.END_TRANSACTION, { producerGroup: opts.group, batch: chunk.length }, encodeEndBatch(chunk)));
        } catch (err) {
          // the half messages stay pending: the broker's check asks the group again
          client.io.logger.warn({ err, broker: addr, count: chunk.length }, 'END_TRANSACTION failed; the broker will check');
        }
      }
    }
    ends.clear();
  };

  const endOneway = (brokerAddr: string, entry: EndEntry): void => {
    const list = ends.get(brokerAddr);
    if (list) list.push(entry);
    else ends.set(brokerAddr, [entry]);
    if (!endsScheduled) {
      endsScheduled = true;
      queueMicrotask(flushEnds);
    }
  };

  const endTransaction = async (brokerAddr: string, header: EndTransactionHeader): Promise<void> => {
    const client = parts!.client;
    if (endMode === 'oneway') {
      client.io.send(brokerAddr, oneWay(RequestCode.END_TRANSACTION, { ...header }));
      return;
    }
    expectOk(await client.io.request(brokerAddr, request(RequestCode.END_TRANSACTION, { ...header }), client.requestTimeoutMs), `END_TRANSACTION to ${brokerAddr}`);
  };

  const onCheck = (frame: Frame): void => {
    const client = parts?.client;
    if (!client) return;
    if (checksRunning >= maxChecks) {
      client.io.logger.warn({ checksRunning }, 'too many transaction checks at once; dropping one (the broker asks again)');
      return;
    }
    checksRunning++;
    void (async () => {
      const h = frame.header as unknown as CheckTransactionStateHeader;
      try {
        if (typeof h.brokerAddr !== 'string' || typeof h.msgId !== 'string' || typeof h.halfOffset !== 'number')
          throw new StatusError(Status.BAD_FRAME, 'a transaction check needs brokerAddr, msgId and halfOffset');
        const [msg] = decodeMessageExtBatch(frame.body, { copyBodies: true });
        if (!msg) throw new StatusError(Status.BAD_FRAME, 'a transaction check carries no message');
        const state = normalize(await opts.checkListener(msg));
        if (state === 'UNKNOWN') return;
        await endTransaction(h.brokerAddr, endTransactionHeader(opts.group, { msgId: h.msgId, queueOffset: h.halfOffset, ...(h.transactionId ? { transactionId: h.transactionId } : {}) }, state, true));
      } catch (err) {
        client.io.logger.warn({ err, msgId: h.msgId }, 'could not answer a transaction check (the broker asks again)');
      } finally {
        checksRunning--;
      }
    })();
  };

  const heartbeatOnce = (brokerName: string): void => {
    if (heartbeated.has(brokerName) || !parts) return;
    heartbeated.add(brokerName);
    void parts.client.heartbeat();
  };

  const producer = await startProducer(actors, opts, {
    onFrame: (frame) => {
      if (frame.code !== RequestCode.CHECK_TRANSACTION_STATE) return false;
      onCheck(frame);
      return true;
    },
    onParts: (p) => (parts = p),
  });
  const { client, path, batched } = parts!;
  for (const t of opts.topics ?? []) {
    client.routes.track(t);
    await path.queues(t).catch((err: unknown) => client.io.logger.warn({ err, topic: t }, 'no route yet for a transactional topic'));
  }
  if ((opts.topics ?? []).length > 0) for (const n of client.routes.brokerNames()) heartbeatOnce(n);

  const run = async (msg: Message, local: LocalTransaction): Promise<TransactionResult> => {
    try {
      return await transact(msg, local);
    } finally {
      if (--running === 0 && idle) idle();
    }
  };

  const transact = async (msg: Message, local: LocalTransaction): Promise<TransactionResult> => {
    validateMessage(msg, opts.maxMessageBytes !== undefined ? { maxBodyBytes: opts.maxMessageBytes } : {});
    const half = halfMessageOf(msg, opts.group);
    client.routes.track(msg.topic);
    // the half messages of one turn to one topic go as one batch, as the producer's sends do
    const sendResult: SendResult = await batched(half); // (this message's own result object)
    if (sendResult.uniqKey !== undefined) sendResult.transactionId = sendResult.uniqKey;
    heartbeatOnce(sendResult.queue.brokerName);
    let state: TxState;
    try {
      state = normalize(await local(msg, sendResult));
    } catch (err) {
      client.io.logger.warn({ err, msgId: sendResult.msgId }, 'the local transaction failed; its outcome is UNKNOWN until a check');
      state = 'UNKNOWN';
    }
    try {
      const addr = client.brokerAddressOf(sendResult.queue.brokerName);
      if (endMode === 'oneway') {
        if (state !== 'UNKNOWN') endOneway(addr, { msgId: sendResult.msgId, halfOffset: sendResult.queueOffset, state });
      } else await endTransaction(addr, endTransactionHeader(opts.group, sendResult, state, false));
    } catch (err) {
      // the half message stays pending: the broker's check asks the group again
      client.io.logger.warn({ err, msgId: sendResult.msgId, state }, 'END_TRANSACTION failed; the broker will check');
    }
    return { sendResult, state };
  };

  return {
    ...producer,
    sendInTransaction: (msg, local) => {
      if (stopping) return Promise.reject(new StatusError(Status.SERVICE_NOT_AVAILABLE, `producer ${producer.clientId} is stopping or stopped`));
      running++;
      return run(msg, local);
    },
    stop: async () => {
      stopping = true;
      while (running > 0) await new Promise<void>((r) => (idle = r));
      idle = undefined;
      if (endsScheduled) flushEnds();
      await producer.stop();
    },
  };
}
