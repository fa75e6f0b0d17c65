/**
 * The order of a handle cache (store/cached-storage.ts), as plain data: open handles in least-recently-used
 * order, an intrusive doubly linked list so that a use (a cache hit) is a few pointer moves and no allocation.
 *
 * A node is `held` (a hot file the owner keeps open: the commit log's active segment) or `busy` (refs > 0: an
 * operation that outlives its call, a flush or a prefetch, is in flight on it); neither is ever chosen to be
 * closed. `victims` names what to close to come back to a limit, least recently used first; `idleSince` names
 * what was last used at or before a time. Neither closes anything: the cache does, and removes the nodes.
 */

export interface LruNode {
  prev: LruNode | undefined;
  next: LruNode | undefined;
  /** In the list (open). */
  linked: boolean;
  /** When it was last used (the injected clock's ms). */
  lastUse: number;
  /** Kept open while true (never a victim, never idle-closed). */
  held: boolean;
  /** Operations in flight on the open handle (a flush, a prefetch): closed only once they end. */
  refs: number;
}

export function lruNode(): LruNode {
  return { prev: undefined, next: undefined, linked: false, lastUse: 0, held: false, refs: 0 };
}

/** Neither held nor busy: may be closed now. */
export function closable(n: LruNode): boolean {
  return !n.held && n.refs === 0;
}

export class HandleLru<N extends LruNode = LruNode> {
  /** Most recently used. */
  private head: N | undefined;
  /** Least recently used. */
  private tail: N | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Puts `n` first (most recently used), linking it when it was not; `now` becomes its last use. */
  use(n: N, now: number): void {
    n.lastUse = now;
    if (this.head === n) return;
    if (n.linked) this.unlinkOnly(n);
    else {
      n.linked = true;
      this.count++;
    }
    n.prev = undefined;
    n.next = this.head;
    if (this.head !== undefined) this.head.prev = n;
    this.head = n;
    if (this.tail === undefined) this.tail = n;
  }

  /** Takes `n` out (it was closed); no-op when it is not in. */
  remove(n: N): void {
    if (!n.linked) return;
    this.unlinkOnly(n);
    n.linked = false;
    n.prev = n.next = undefined;
    this.count--;
  }

  /**
   * What to close so that at most `limit` stay open, least recently used first, skipping held and busy nodes and
   * `except` (the one being opened): fewer than the excess when too many are held or busy.
   */
  victims(limit: number, except?: N): N[] {
    const out: N[] = [];
    let excess = this.count - Math.max(0, limit);
    for (let n = this.tail; n !== undefined && excess > 0; n = n.prev as N | undefined) {
      if (n === except || !closable(n)) continue;
      out.push(n);
      excess--;
    }
    return out;
  }

  /** Closable nodes last used at or before `cutoff`, least recently used first. */
  idleSince(cutoff: number): N[] {
    const out: N[] = [];
    for (let n = this.tail; n !== undefined && n.lastUse <= cutoff; n = n.prev as N | undefined) {
      if (closable(n)) out.push(n);
    }
    return out;
  }

  /** The earliest last use among closable nodes (undefined when none): when the next one goes idle. */
  oldestClosableUse(): number | undefined {
    for (let n = this.tail; n !== undefined; n = n.prev as N | undefined) {
      if (closable(n)) return n.lastUse;
    }
    return undefined;
  }

  /** Nodes, most recently used first. */
  toArray(): N[] {
    const out: N[] = [];
    for (let n = this.head; n !== undefined; n = n.next as N | undefined) out.push(n);
    return out;
  }

  private unlinkOnly(n: N): void {
    if (n.prev !== undefined) n.prev.next = n.next;
    else this.head = n.next as N | undefined;
    if (n.next !== undefined) n.next.prev = n.prev;
    else this.tail = n.prev as N | undefined;
  }
}
