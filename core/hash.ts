/**
 * Stable, platform-independent hashes for placement decisions (consistent hashing, ordered-message queue
 * selection). Never random: the same input gives the same placement in every process and every replay.
 */
const utf8 = new TextEncoder();

/** MurmurHash3 (x86, 32-bit) of the UTF-8 bytes of `s`, as an unsigned 32-bit integer. */
export function murmur3(s: string, seed = 0): number {
  const data = utf8.encode(s);
  const len = data.length;
  const nblocks = len >>> 2;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  for (let i = 0; i < nblocks; i++) {
    const o = i << 2;
    let k = data[o]! | (data[o + 1]! << 8) | (data[o + 2]! << 16) | (data[o + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = nblocks << 2;
  const rest = len & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= data[tail + 2]! << 16;
    if (rest >= 2) k ^= data[tail + 1]! << 8;
    k ^= data[tail]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Java's String.hashCode (signed 32-bit), what RocketMQ's SelectMessageQueueByHash uses. */
export function javaHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}
