import { MessageProperty } from '../../core/message.js';
import { DEFAULT_TIMER_HORIZON_MS } from './timer-tx-options.js';
import { toTimer } from './schedule/timer-message.js';
import { isHalf, toHalf } from './transaction/half-message.js';
import type { StorePutMessage } from './store-port.js';

/**
 * Where a message a client sent is really stored: a half message in the transaction half topic, a message
 * with a future DELIVER_AT in the timer topic; any other message is returned as it is (same object), for the
 * delay-level rewrite and the store.
 */
export function rewriteForStore(p: StorePutMessage, now: number, timerHorizonMs = DEFAULT_TIMER_HORIZON_MS): StorePutMessage {
  if (isHalf(p)) return toHalf(p);
  if (p.properties?.[MessageProperty.DELIVER_AT] !== undefined) return toTimer(p, now, timerHorizonMs);
  return p;
}
