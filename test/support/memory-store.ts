/** What the store tests on the memory backend share: a simulated clock with its storage, and a text message. */
import { SimClock } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { memoryStorage, type MemoryStorage } from '../../store/backends/memory.js';
import type { PutMessage } from '../../store/message-store.js';

const enc = new TextEncoder();

/** A simulated clock and a memory backend on it (`seed`: its torn writes). */
export function memorySetup(seed = 1): { clock: SimClock; mem: MemoryStorage } {
  const clock = new SimClock();
  return { clock, mem: memoryStorage({ clock, random: new SeededRandom(seed) }) };
}

/** A message of `topic`/`queueId` whose body is `body` as UTF-8. */
export const textMsg = (topic: string, queueId: number, body: string, extra: Partial<PutMessage> = {}): PutMessage => ({
  topic,
  queueId,
  body: enc.encode(body),
  bornTimestamp: 1,
  bornHost: 'p',
  ...extra,
});
