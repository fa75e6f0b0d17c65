/**
 * The `order` check: in an ordered topic, each group receives the messages of one producer and key in `seq`
 * order. A SUCCESS delivery of seq n while an acknowledged seq below n of the same producer and key has not yet
 * reached the group is a skip (reported once per missing seq); a re-delivery of a seq below the largest already
 * delivered (a rewind) must be explained as a duplicate is.
 */
import { isExplained, place, type CheckContext } from './context.js';
import { isAcked, type Delivery, type MessageRecord } from './model.js';

/** The acknowledged messages of one producer and key, by ascending seq. */
interface Stream {
  seqs: number[];
  ids: Map<number, string>;
}

/** How far one group got in one stream. */
interface StreamState {
  /** Position in `seqs` of the smallest acknowledged seq not yet delivered. */
  next: number;
  delivered: Map<number, Delivery>;
  maxSeq: number;
  /** Missing seqs already reported. */
  reported: Set<number>;
}

const streamKey = (m: MessageRecord): string => `${m.producer}\u0000${m.key}`;

function orderedOf(ctx: CheckContext, m: MessageRecord | undefined): m is MessageRecord & { key: string; seq: number } {
  return m !== undefined && m.key !== undefined && m.seq !== undefined && ctx.opts.orderedTopics.has(m.topic);
}

function ackedStreams(ctx: CheckContext): Map<string, Stream> {
  const streams = new Map<string, Stream>();
  for (const m of ctx.model.messages.values()) {
    if (!orderedOf(ctx, m) || !isAcked(m) || ctx.model.destroyed.has(m.id)) continue;
    const k = streamKey(m);
    let s = streams.get(k);
    if (!s) streams.set(k, (s = { seqs: [], ids: new Map() }));
    s.seqs.push(m.seq);
    s.ids.set(m.seq, m.id);
  }
  for (const s of streams.values()) s.seqs.sort((a, b) => a - b);
  return streams;
}

export function checkOrder(ctx: CheckContext): void {
  if (ctx.opts.orderedTopics.size === 0) return;
  const streams = ackedStreams(ctx);
  const states = new Map<string, StreamState>();
  for (const d of ctx.model.deliveries) {
    if (d.result !== 'SUCCESS') continue;
    const m = ctx.model.messages.get(d.id);
    if (!orderedOf(ctx, m)) continue;
    const sk = streamKey(m);
    const stateKey = `${d.group}\u0000${sk}`;
    let st = states.get(stateKey);
    if (!st) states.set(stateKey, (st = { next: 0, delivered: new Map(), maxSeq: -Infinity, reported: new Set() }));
    const stream = streams.get(sk) ?? { seqs: [], ids: new Map() };
    const earlier = st.delivered.get(m.seq);
    if (earlier) {
      if (m.seq < st.maxSeq && !isExplained(ctx, m, earlier, d)) {
        ctx.reporter.report(
          'order',
          `group ${d.group} got ${m.id} (producer ${m.producer}, key ${m.key}, seq ${m.seq}) again at ${d.time} ms (op ${d.op}, ${place(d)}) after seq ${st.maxSeq}: a rewind with no retry, ambiguous send or nemesis op since its first delivery at ${earlier.time} ms (op ${earlier.op})`,
          [m.id],
          [earlier.op, d.op],
        );
      }
      continue;
    }
    const missing = stream.seqs[st.next];
    if (missing !== undefined && missing < m.seq && !st.reported.has(missing)) {
      st.reported.add(missing);
      const missingId = stream.ids.get(missing)!;
      ctx.reporter.report(
        'order',
        `group ${d.group} got ${m.id} (producer ${m.producer}, key ${m.key}, seq ${m.seq}) at ${d.time} ms (op ${d.op}, ${place(d)}) before acknowledged seq ${missing} (${missingId})`,
        [m.id, missingId],
        [d.op, ctx.model.messages.get(missingId)!.firstInvoke],
      );
    }
    st.delivered.set(m.seq, d);
    st.maxSeq = Math.max(st.maxSeq, m.seq);
    while (st.next < stream.seqs.length && st.delivered.has(stream.seqs[st.next]!)) st.next++;
  }
}
