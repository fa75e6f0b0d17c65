import { Status, StatusError } from '../../core/status.js';
import { tagHash } from '../../core/tags.js';
import { tagProblem } from './validation.js';

/**
 * Subscription tag expressions: `*` or empty (every message), or `TagA || TagB` (whitespace around tags is
 * ignored). With a filter set, the broker's store reads skip consume queue entries by tag hash (`matchesHash`)
 * and then check the tag of each record they read (`matchesTag`), since different tags can share a hash; the
 * consumer checks the tag again (`matchesTag`) on what it pulls.
 */
export interface TagFilter {
  /** The expression as given, trimmed. */
  readonly expression: string;
  readonly all: boolean;
  readonly tags: ReadonlySet<string>;
  readonly hashes: ReadonlySet<number>;
}

export const SUBSCRIBE_ALL = '*';

/** Parses a tag expression; a malformed one throws StatusError(INVALID_ARGUMENT). */
export function parseTagExpression(expression: string | undefined | null): TagFilter {
  const expr = (expression ?? '').trim();
  if (expr === '' || expr === SUBSCRIBE_ALL) return { expression: SUBSCRIBE_ALL, all: true, tags: new Set(), hashes: new Set() };
  const tags = new Set<string>();
  const hashes = new Set<number>();
  const parts = expr.split('||');
  for (const raw of parts) {
    const tag = raw.trim();
    if (tag === '') throw new StatusError(Status.INVALID_ARGUMENT, `tag expression "${expr}" has an empty alternative`);
    if (tag === SUBSCRIBE_ALL) throw new StatusError(Status.INVALID_ARGUMENT, `tag expression "${expr}": '*' must stand alone`);
    const p = tagProblem(tag);
    if (p) throw new StatusError(Status.INVALID_ARGUMENT, `tag expression "${expr}": ${p}`);
    tags.add(tag);
    hashes.add(tagHash(tag));
  }
  return { expression: [...tags].join(' || '), all: false, tags, hashes };
}

/** Whether a message with tag `tag` passes the filter (a message without tags passes only `*`). */
export function matchesTag(filter: TagFilter, tag: string | undefined): boolean {
  if (filter.all) return true;
  return tag !== undefined && filter.tags.has(tag);
}

/** Whether a consume queue entry with tag hash `hash` may pass the filter. */
export function matchesHash(filter: TagFilter, hash: number): boolean {
  return filter.all || filter.hashes.has(hash);
}
