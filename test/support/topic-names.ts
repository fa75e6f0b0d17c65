import { PERM_READ_WRITE, type TopicConfig } from '../../actors/protocol/route.js';

const CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_%|-';

/**
 * `count` distinct topic names of `length` characters drawn from every character a topic name may hold, from a
 * small seeded generator (xorshift32): names that deflate about as badly as real varied names can.
 */
export function randomTopicNames(count: number, length: number, seed = 0x9e3779b9): string[] {
  let x = seed >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  const names = new Set<string>();
  while (names.size < count) {
    let s = '';
    for (let i = 0; i < length; i++) s += CHARS[next() % CHARS.length];
    names.add(s);
  }
  return [...names];
}

/** Topic configurations of 4 read and write queues for `names`. */
export function topicConfigs(names: readonly string[]): TopicConfig[] {
  return names.map((topicName) => ({ topicName, readQueueNums: 4, writeQueueNums: 4, perm: PERM_READ_WRITE, topicSysFlag: 0 }));
}
