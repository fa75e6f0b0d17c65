import type { MessageExt } from '../../index.js';

/** One listener call of an orderly consumer: who, which queue, when (clock ms), and the bodies it got. */
export interface Call {
  consumer: string;
  queue: string;
  start: number;
  end: number;
  bodies: string[];
}

/** Records listener calls; bodies are `key:seq`. */
export class OrderHistory {
  readonly calls: Call[] = [];

  /** A listener for `consumer` that records each call around `work` (which takes the call's time). */
  listener(consumer: string, now: () => number, work: (msgs: MessageExt[]) => Promise<'SUCCESS' | 'RETRY'>) {
    return async (msgs: MessageExt[]): Promise<'SUCCESS' | 'RETRY'> => {
      const m = msgs[0]!;
      const call: Call = { consumer, queue: `${m.topic}@${m.storeHost}@${m.queueId}`, start: now(), end: Number.NaN, bodies: msgs.map((x) => Buffer.from(x.body).toString()) };
      this.calls.push(call);
      try {
        return await work(msgs);
      } finally {
        call.end = now();
      }
    };
  }

  /** Per key, the sequence numbers in the order they were first processed (later duplicates left out). */
  firstSeen(): Map<string, number[]> {
    const seen = new Map<string, Set<number>>();
    const out = new Map<string, number[]>();
    for (const c of [...this.calls].sort((a, b) => a.start - b.start)) {
      for (const b of c.bodies) {
        const [key, s] = b.split(':') as [string, string];
        const seq = Number(s);
        let set = seen.get(key);
        if (!set) {
          seen.set(key, (set = new Set()));
          out.set(key, []);
        }
        if (!set.has(seq)) {
          set.add(seq);
          out.get(key)!.push(seq);
        }
      }
    }
    return out;
  }

  /** Whether every key has all of 0..perKey-1. */
  complete(keys: number, perKey: number): boolean {
    const seen = new Map<string, Set<string>>();
    for (const c of this.calls)
      for (const b of c.bodies) {
        const key = b.split(':')[0]!;
        let s = seen.get(key);
        if (!s) seen.set(key, (s = new Set()));
        s.add(b);
      }
    if (seen.size < keys) return false;
    for (const s of seen.values()) if (s.size < perKey) return false;
    return true;
  }

  /** Pairs of listener calls on one queue whose intervals overlap (should be none). */
  overlaps(): [Call, Call][] {
    const byQueue = new Map<string, Call[]>();
    for (const c of this.calls) {
      const l = byQueue.get(c.queue) ?? [];
      l.push(c);
      byQueue.set(c.queue, l);
    }
    const bad: [Call, Call][] = [];
    for (const list of byQueue.values()) {
      list.sort((a, b) => a.start - b.start || a.end - b.end);
      let last: Call | undefined;
      for (const c of list) {
        if (last && c.start < last.end) bad.push([last, c]);
        if (!last || c.end > last.end) last = c;
      }
    }
    return bad;
  }
}
