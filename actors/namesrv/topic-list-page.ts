/**
 * GET_ALL_TOPIC_LIST_FROM_NAMESERVER in pages: a name server with thousands of long topic names would otherwise
 * answer with a body over the transport's frame limit. A page holds the sorted names after the request's
 * `after` (all from the start without it) up to a byte budget of JSON; reply header `more` says another page
 * follows, asked for with `after` set to the page's last name.
 */

/** The JSON bytes of topic names one page carries at most (well under any transport's 1 MiB frame). */
export const TOPIC_LIST_PAGE_BYTES = 256 * 1024;

const encoder = new TextEncoder();

export interface TopicListPage {
  topics: string[];
  /** Whether names after the last one of `topics` remain. */
  more: boolean;
}

/** The first index of `sorted` whose name comes after `after`. */
function firstAfter(sorted: readonly string[], after: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The page of `sorted` (names in ascending order) after `after`, at most `budgetBytes` of JSON string bytes
 * (each name's quoted UTF-8 and a comma); always at least one name when any remain, so paging moves on.
 */
export function topicListPage(sorted: readonly string[], after: string | undefined, budgetBytes: number): TopicListPage {
  let i = after === undefined ? 0 : firstAfter(sorted, after);
  const topics: string[] = [];
  let used = 2;
  for (; i < sorted.length; i++) {
    const cost = encoder.encode(JSON.stringify(sorted[i])).length + 1;
    if (topics.length > 0 && used + cost > budgetBytes) break;
    topics.push(sorted[i]!);
    used += cost;
  }
  return { topics, more: i < sorted.length };
}
