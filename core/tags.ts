/**
 * Tag hash as RocketMQ computes it (Java's String.hashCode), stored in consume queue entries so that a pull
 * filters by tag without reading the commit log. A message without tags hashes to 0.
 */
export function tagHash(tag: string | undefined): number {
  if (!tag) return 0;
  let h = 0;
  for (let i = 0; i < tag.length; i++) h = (Math.imul(h, 31) + tag.charCodeAt(i)) | 0;
  return h;
}
