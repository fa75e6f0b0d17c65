import type { StorageBackend } from '../../store/backend.js';
import { TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC } from '../protocol/validation.js';
import type { BrokerContext } from './handlers/context.js';
import { TIMER_TOPIC } from './schedule/timer-message.js';
import { TimerScheduler } from './schedule/timer-scheduler.js';
import type { TimerTxSettings } from './timer-tx-options.js';
import { TransactionService } from './transaction/transaction-service.js';

/** The broker's timer scheduler and transaction service, started together after the store opens. */
export interface TimerTxServices {
  readonly timer: TimerScheduler;
  readonly transactions: TransactionService;
  stop(): Promise<void>;
}

/**
 * Creates the system topics (one queue each) if missing, starts the timer scheduler and rebuilds the
 * transaction service's pending set from the store. Returns whether the topic table changed (to persist).
 */
export async function openTimerTx(ctx: BrokerContext, storage: StorageBackend, storeDir: string, settings: TimerTxSettings): Promise<{ services: TimerTxServices; topicsCreated: boolean }> {
  const now = ctx.clock.now();
  let topicsCreated = false;
  for (const t of [TIMER_TOPIC, TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC]) topicsCreated = ctx.topics.createSystem(t, 1, now).created || topicsCreated;
  const timer = new TimerScheduler({ store: ctx.store, storage, storeDir, clock: ctx.clock, logger: ctx.logger.child({ part: 'timer' }) });
  const transactions = new TransactionService({
    store: ctx.store,
    clock: ctx.clock,
    logger: ctx.logger.child({ part: 'transactions' }),
    brokerName: ctx.brokerName,
    address: ctx.address,
    settings,
    producersOf: (group) => ctx.clients.producerIds(group),
    send: (to, frame) => ctx.send(to, frame),
  });
  timer.start();
  await transactions.start();
  return {
    topicsCreated,
    services: {
      timer,
      transactions,
      stop: async () => {
        await transactions.stop();
        await timer.stop();
      },
    },
  };
}
