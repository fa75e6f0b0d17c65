import fc from 'fast-check';
import { ALL_CHECKS, checkHistory, formatVerdict, HistoryCheckError, type CheckName, type CheckOptions, type Verdict } from '../../scenarios/checker.js';
import { HistoryLog, type HistoryOp, type ReceivedMessage, type ReceiveValue, type SentMessage } from '../../scenarios/history.js';
import { cloneOps, cmdArb, GROUPS, reindex, simulate, successes, TOPIC, type ModelRun } from './checker-model.js';

/**
 * The history checker: each check on small hand-written histories (one that passes, one that violates it), then
 * property tests over a model queue's correct histories and their mutations.
 */

/** Writes a history by hand: each op at the current time, which then moves on by 1 ms (or to `at`). */
class H {
  private t = 0;
  private offset = 0;
  readonly log = new HistoryLog(() => this.t);

  get ops(): HistoryOp[] {
    return this.log.ops;
  }

  at(t: number): this {
    this.t = t;
    return this;
  }

  add(process: string, type: HistoryOp['type'], f: string, value: unknown): number {
    const op = this.log.add(process, type, f, value);
    this.t++;
    return op.index;
  }

  /** A send invoke and (unless result is null) its completion. */
  send(process: string, messages: (string | SentMessage)[], result: 'ok' | 'fail' | 'info' | null = 'ok', extra: { topic?: string; tx?: boolean } = {}): this {
    const value = { topic: extra.topic ?? 'T', messages: messages.map((m) => (typeof m === 'string' ? { id: m } : m)), ...(extra.tx ? { tx: true } : {}) };
    this.add(process, 'invoke', 'send', value);
    if (result) this.add(process, result, 'send', value);
    return this;
  }

  txEnd(process: string, ids: string[], outcome: 'commit' | 'rollback', result: 'ok' | 'info' = 'ok'): this {
    this.add(process, 'invoke', 'tx-end', { ids, outcome });
    this.add(process, result, 'tx-end', result === 'ok' ? { ids, outcome } : { ids, outcome: 'unknown' });
    return this;
  }

  private readonly places = new Map<string, number>();

  receive(consumer: string, group: string, ids: string[], result: 'SUCCESS' | 'RETRY' = 'SUCCESS', queueId = 0): this {
    // a message has one place in its queue: a redelivery comes from the same offset
    const place = (id: string): number => {
      if (!this.places.has(id)) this.places.set(id, this.offset++);
      return this.places.get(id)!;
    };
    const messages: ReceivedMessage[] = ids.map((id) => ({ id, broker: 'b1', queueId, offset: place(id), reconsumeTimes: 0 }));
    this.add(consumer, 'ok', 'receive', { group, topic: 'T', messages, result });
    return this;
  }

  offsetOp(f: 'commit' | 'fetch-offset', offset: number, broker = 'b1', group = 'g1'): this {
    this.add('c1', 'ok', f, { group, topic: 'T', broker, queueId: 0, offset });
    return this;
  }

  nemesis(f: string, targets: string[] = []): this {
    this.add('nemesis', 'info', f, { targets });
    return this;
  }

  drain(): this {
    this.add('runner', 'info', 'drain', {});
    return this;
  }
}

const base: CheckOptions = { groups: { T: ['g1'] }, drainMs: 1000 };

function check(h: H, opts: Partial<CheckOptions> = {}): Verdict {
  return checkHistory(h.ops, { ...base, ...opts });
}

function only(v: Verdict, name: CheckName) {
  return v.violations.filter((x) => x.check === name);
}

function expectOne(v: Verdict, name: CheckName, ids: string[]) {
  expect(v.ok).toBe(false);
  expect(v.violations.map((x) => x.check)).toEqual([name]);
  expect(v.violations[0]!.ids).toEqual(ids);
  for (const id of ids) expect(v.violations[0]!.message).toContain(id);
  return v.violations[0]!;
}

describe('lost', () => {
  it('passes when every acknowledged message reaches every group of its topic', () => {
    const v = check(new H().send('p1', ['a', 'b']).receive('c1', 'g1', ['a', 'b']).receive('c2', 'g2', ['b', 'a']), { groups: { T: ['g1', 'g2'] } });
    expect(v.ok).toBe(true);
    expect(v.stats).toMatchObject({ sends: 2, acked: 2, delivered: 4, uniqueDelivered: 4, lost: 0 });
  });

  it('reports an acknowledged message a group never got, naming the group', () => {
    const v = check(new H().send('p1', ['a', 'b']).receive('c1', 'g1', ['a', 'b']).receive('c2', 'g2', ['a']), { groups: { T: ['g1', 'g2'] } });
    const x = expectOne(v, 'lost', ['b']);
    expect(x.message).toContain('group g2');
    expect(x.ops).toContain(1);
    expect(v.stats.lost).toBe(1);
  });

  it('does not hold ambiguous or failed sends to delivery', () => {
    const v = check(new H().send('p1', ['a'], 'info').send('p1', ['b'], 'fail').send('p1', ['c'], null));
    expect(v.ok).toBe(true);
    expect(v.stats).toMatchObject({ sends: 3, acked: 0, ambiguous: 2, failed: 1 });
  });

  it('counts an ambiguous send retried to ok as acknowledged', () => {
    const h = new H().send('p1', ['a'], 'info').send('p1', ['a'], 'ok');
    expectOne(check(h), 'lost', ['a']);
    expect(check(h.receive('c1', 'g1', ['a'])).ok).toBe(true);
  });

  it('takes a message answered RETRY maxReconsumeTimes + 1 times as dead-lettered, fewer as lost', () => {
    const h = new H().send('p1', ['a']);
    for (let i = 0; i < 3; i++) h.receive('c1', 'g1', ['a'], 'RETRY');
    const dead = check(h, { maxReconsumeTimes: 2 });
    expect(dead.ok).toBe(true);
    expect(dead.stats.deadLettered).toBe(1);
    const lost = check(h, { maxReconsumeTimes: 3 });
    expect(expectOne(lost, 'lost', ['a']).message).toContain('3 RETRY deliveries');
    expect(check(h).stats.lost).toBe(1);
  });

  it('pairs completions with the invoke in flight of the same process and f', () => {
    const h = new H();
    h.log.add('p1', 'invoke', 'send', { topic: 'T', messages: [{ id: 'a' }] });
    h.log.add('p2', 'invoke', 'send', { topic: 'T', messages: [{ id: 'b' }] });
    h.log.add('p2', 'fail', 'send', {});
    h.log.add('p1', 'ok', 'send', {});
    const v = check(h);
    expect(v.stats).toMatchObject({ acked: 1, failed: 1 });
    expectOne(v, 'lost', ['a']);
  });

  it('pairs completions naming their messages with the invoke of those messages, many in flight per process', () => {
    const h = new H();
    h.log.add('p1', 'invoke', 'send', { topic: 'T', messages: [{ id: 'a' }] });
    h.log.add('p1', 'invoke', 'send', { topic: 'T', messages: [{ id: 'b' }] });
    h.log.add('p1', 'ok', 'send', { topic: 'T', messages: [{ id: 'a' }] });
    h.log.add('p1', 'info', 'send', { topic: 'T', messages: [{ id: 'b' }], status: 'TIMEOUT' });
    const v = check(h);
    expect(v.stats).toMatchObject({ acked: 1, ambiguous: 1 });
    expectOne(v, 'lost', ['a']);
  });
});

describe('unexpected', () => {
  it('passes deliveries of sent ids, even of ambiguous or failed sends', () => {
    expect(check(new H().send('p1', ['a'], 'fail').receive('c1', 'g1', ['a'])).ok).toBe(true);
  });

  it('reports a delivered id that no send invoked', () => {
    const x = expectOne(check(new H().send('p1', ['a']).receive('c1', 'g1', ['a', 'zz'], 'RETRY').receive('c1', 'g1', ['a'])), 'unexpected', ['zz']);
    expect(x.ops).toEqual([2]);
  });
});

describe('duplicated', () => {
  it('takes a second stored copy (a producer retry after a lost answer) as explained', () => {
    const h = new H().send('p1', ['a']);
    h.add('c1', 'ok', 'receive', { group: 'g1', topic: 'T', messages: [{ id: 'a', broker: 'b1', queueId: 0, offset: 7, reconsumeTimes: 0 }], result: 'SUCCESS' });
    h.add('c1', 'ok', 'receive', { group: 'g1', topic: 'T', messages: [{ id: 'a', broker: 'b2', queueId: 1, offset: 3, reconsumeTimes: 0 }], result: 'SUCCESS' });
    const v = check(h);
    expect(v.ok).toBe(true);
    expect(v.stats).toMatchObject({ duplicates: 1, explainedDuplicates: 1 });
  });

  it('reports an unexplained second SUCCESS delivery to one group, across consumers', () => {
    const v = check(new H().send('p1', ['a']).receive('c1', 'g1', ['a']).receive('c2', 'g1', ['a']));
    const x = expectOne(v, 'duplicated', ['a']);
    expect(x.ops).toEqual([2, 3]);
    expect(v.stats).toMatchObject({ delivered: 2, uniqueDelivered: 1, duplicates: 1, explainedDuplicates: 0 });
  });

  it('ignores RETRY deliveries and deliveries to other groups', () => {
    expect(check(new H().send('p1', ['a']).receive('c1', 'g1', ['a'], 'RETRY').receive('c1', 'g1', ['a']).receive('c2', 'g2', ['a'])).ok).toBe(true);
  });

  it('explains a duplicate by a retried send, an ambiguous send, or a nemesis op in between', () => {
    const retried = new H().send('p1', ['a'], 'fail').send('p1', ['a']).receive('c1', 'g1', ['a']).receive('c1', 'g1', ['a']);
    const ambiguous = new H().send('p1', ['a', 'b'], 'info').receive('c1', 'g1', ['a']).receive('c1', 'g1', ['a']);
    const nemesis = new H().send('p1', ['a']).receive('c1', 'g1', ['a']).nemesis('leave', ['c1']).receive('c2', 'g1', ['a']);
    for (const h of [retried, ambiguous, nemesis]) {
      const v = check(h);
      expect(v.ok).toBe(true);
      expect(v.stats).toMatchObject({ duplicates: 1, explainedDuplicates: 1 });
    }
  });

  it('does not take a nemesis op before the first delivery as an explanation, unless within rebalanceMs', () => {
    const h = new H().send('p1', ['a']).at(100).nemesis('join', ['c2']).at(150).receive('c1', 'g1', ['a']).at(170).receive('c2', 'g1', ['a']);
    expectOne(check(h), 'duplicated', ['a']);
    expectOne(check(h, { rebalanceMs: 40 }), 'duplicated', ['a']);
    expect(check(h, { rebalanceMs: 50 }).ok).toBe(true);
  });

  it('turns explained duplicates into one violation only beyond maxDuplicates', () => {
    const h = new H().send('p1', ['a', 'b']).receive('c1', 'g1', ['a', 'b']).nemesis('crash', ['c1']).receive('c2', 'g1', ['a', 'b']);
    expect(check(h, { maxDuplicates: 2 }).ok).toBe(true);
    const x = expectOne(check(h, { maxDuplicates: 1 }), 'duplicated', ['a', 'b']);
    expect(x.message).toContain('2 explained duplicate deliveries, more than the 1 allowed');
  });
});

describe('order', () => {
  const k = (id: string, seq: number, key = 'k'): SentMessage => ({ id, key, seq });
  const ordered = { orderedTopics: ['T'] };

  it('passes per-key order, other keys and producers interleaved', () => {
    const h = new H()
      .send('p1', [k('a1', 1), k('a2', 2)])
      .send('p1', [k('x1', 1, 'x')])
      .send('p2', [k('b1', 1)])
      .receive('c1', 'g1', ['b1', 'a1', 'x1'])
      .receive('c1', 'g1', ['a2']);
    expect(check(h, ordered).ok).toBe(true);
  });

  it('reports a seq delivered before an acknowledged lower seq of the same producer and key', () => {
    const h = new H().send('p1', [k('a1', 1)]).send('p1', [k('a2', 2)]).send('p1', [k('a3', 3)]).receive('c1', 'g1', ['a2', 'a3', 'a1']);
    const v = check(h, ordered);
    const x = expectOne(v, 'order', ['a2', 'a1']);
    expect(x.message).toContain('before acknowledged seq 1');
    expect(check(h).ok).toBe(true);
  });

  it('does not wait for a seq whose send failed or was ambiguous', () => {
    const h = new H().send('p1', [k('a1', 1)], 'fail').send('p1', [k('a2', 2)], 'info').send('p1', [k('a3', 3)]).receive('c1', 'g1', ['a3', 'a2']);
    expect(check(h, ordered).ok).toBe(true);
  });

  it('reports an unexplained rewind, and passes one after a crash', () => {
    const rewind = new H().send('p1', [k('a1', 1), k('a2', 2)]).receive('c1', 'g1', ['a1', 'a2']);
    const crashed = new H().send('p1', [k('a1', 1), k('a2', 2)]).receive('c1', 'g1', ['a1', 'a2']).nemesis('crash', ['c1']).receive('c2', 'g1', ['a1', 'a2']);
    rewind.receive('c1', 'g1', ['a1', 'a2']);
    const v = check(rewind, ordered);
    expect(only(v, 'order').map((x) => x.ids)).toEqual([['a1']]);
    expect(only(v, 'order')[0]!.message).toContain('rewind');
    expect(check(crashed, ordered).ok).toBe(true);
  });
});

describe('delay', () => {
  it('passes a delivery at or after notBefore - skewMs', () => {
    const h = new H().send('p1', [{ id: 'a', notBefore: 100 }]).at(95).receive('c1', 'g1', ['a']);
    expect(check(h, { skewMs: 5 }).ok).toBe(true);
  });

  it('reports a delivery before notBefore', () => {
    const h = new H().send('p1', [{ id: 'a', notBefore: 100 }]).at(95).receive('c1', 'g1', ['a'], 'RETRY').at(120).receive('c1', 'g1', ['a']);
    const x = expectOne(check(h, { skewMs: 4 }), 'delay', ['a']);
    expect(x.message).toContain('at 95 ms');
    expect(x.message).toContain('notBefore 100 ms');
  });
});

describe('transactions', () => {
  it('passes a committed transaction delivered after its tx-end began', () => {
    const h = new H().send('p1', ['a', 'b'], 'ok', { tx: true }).txEnd('p1', ['a', 'b'], 'commit').receive('c1', 'g1', ['a', 'b']);
    const v = check(h);
    expect(v.ok).toBe(true);
    expect(v.stats).toMatchObject({ acked: 2, committedTx: 1 });
  });

  it('reports a rolled back message delivered', () => {
    const h = new H().send('p1', ['a'], 'ok', { tx: true }).txEnd('p1', ['a'], 'rollback').receive('c1', 'g1', ['a']);
    const v = check(h);
    expect(expectOne(v, 'transactions', ['a']).message).toContain('rolled back');
    expect(v.stats).toMatchObject({ acked: 0, rolledBackTx: 1 });
  });

  it('reports a half message visible before its commit', () => {
    const h = new H().send('p1', ['a'], 'ok', { tx: true }).receive('c1', 'g1', ['a']).txEnd('p1', ['a'], 'commit');
    expect(expectOne(check(h), 'transactions', ['a']).message).toContain('half message');
  });

  it('holds a committed transaction to delivery (as lost), and an unknown one to nothing', () => {
    expectOne(check(new H().send('p1', ['a'], 'ok', { tx: true }).txEnd('p1', ['a'], 'commit')), 'lost', ['a']);
    const unknown = check(new H().send('p1', ['a'], 'ok', { tx: true }).txEnd('p1', ['a'], 'commit', 'info'));
    expect(unknown.ok).toBe(true);
    expect(unknown.stats).toMatchObject({ acked: 0, ambiguous: 1 });
  });
});

describe('offsets', () => {
  it('passes commits that grow and fetches that read the last commit', () => {
    expect(check(new H().offsetOp('commit', 3).offsetOp('commit', 5).offsetOp('fetch-offset', 5).offsetOp('fetch-offset', 7)).ok).toBe(true);
  });

  it('keeps queues, brokers and groups apart', () => {
    expect(check(new H().offsetOp('commit', 5).offsetOp('commit', 3, 'b2').offsetOp('commit', 2, 'b1', 'g2').offsetOp('fetch-offset', 3, 'b2')).ok).toBe(true);
  });

  it('reports a commit that goes back with no nemesis op between, and passes one after a crash', () => {
    const x = expectOne(check(new H().offsetOp('commit', 5).offsetOp('commit', 3)), 'offsets', []);
    expect(x.message).toContain('went back from 5');
    expect(x.ops).toEqual([0, 1]);
    expect(check(new H().offsetOp('commit', 5).nemesis('crash', ['c1']).offsetOp('commit', 3)).ok).toBe(true);
  });

  it('reports a fetch below the last commit unless its broker had a fault in between', () => {
    expect(expectOne(check(new H().offsetOp('commit', 5).offsetOp('fetch-offset', 4)), 'offsets', []).message).toContain('fetched offset 4');
    expect(check(new H().offsetOp('commit', 5).nemesis('restart', ['b1']).offsetOp('fetch-offset', 4)).ok).toBe(true);
    expectOne(check(new H().offsetOp('commit', 5).nemesis('restart', ['b2']).offsetOp('fetch-offset', 4)), 'offsets', []);
    expectOne(check(new H().nemesis('restart', ['b1']).offsetOp('commit', 5).offsetOp('fetch-offset', 4)), 'offsets', []);
  });
});

describe('liveness', () => {
  it('passes first deliveries within drainMs after the drain', () => {
    expect(check(new H().send('p1', ['a']).at(100).drain().at(1100).receive('c1', 'g1', ['a'])).ok).toBe(true);
  });

  it('reports a first delivery after the deadline, not as lost', () => {
    const v = check(new H().send('p1', ['a']).at(100).drain().at(1101).receive('c1', 'g1', ['a']));
    expect(expectOne(v, 'liveness', ['a']).message).toContain('deadline 1100 ms');
    expect(v.stats).toMatchObject({ late: 1, lost: 0 });
  });

  it('counts the deadline from notBefore when that is later, and is skipped with no drain', () => {
    expect(check(new H().send('p1', [{ id: 'a', notBefore: 500 }]).at(100).drain().at(1500).receive('c1', 'g1', ['a'])).ok).toBe(true);
    expect(check(new H().send('p1', ['a']).at(5000).receive('c1', 'g1', ['a'])).ok).toBe(true);
  });
});

describe('split-brain', () => {
  /** A send of `ids` invoked at `invoke` and answered ok at `done` by `address` (broker.a.N) in `epoch`. */
  const acked = (h: H, process: string, ids: string[], invoke: number, done: number, epoch: number, address: string): void => {
    const value = { topic: 'T', messages: ids.map((id) => ({ id })) };
    h.at(invoke).add(process, 'invoke', 'send', value);
    h.at(done).add(process, 'ok', 'send', { ...value, broker: 'a', queueId: 0, address, epoch });
  };
  const groups: CheckOptions['brokerGroups'] = { a: { processes: ['a-1', 'a-2', 'a-3'], maxClockSkewMs: 300 } };
  const opts: Partial<CheckOptions> = { brokerGroups: groups, checks: ['split-brain'] };

  it('passes failovers: the old master answers sends invoked before the new one acknowledged, within the skew', () => {
    const h = new H();
    acked(h, 'p1', ['m1'], 0, 5, 1, 'broker.a.1');
    // in flight on the old master while the new one is elected; invoked just within the skew of its first ack
    acked(h, 'p2', ['m2'], 1000, 2000, 1, 'broker.a.1');
    acked(h, 'p1', ['m3'], 1200, 1250, 2, 'broker.a.2');
    acked(h, 'p1', ['m4'], 1500, 1550, 1, 'broker.a.1'); // invoked 250 ms after epoch 2's first ack: within 300
    acked(h, 'p1', ['m5'], 9000, 9010, 3, 'broker.a.1'); // the old master is master again, in a new epoch
    acked(h, 'p2', ['m6'], 9020, 9030, 3, 'broker.a.1');
    const v = check(h, opts);
    expect(v.ok).toBe(true);
    expect(v.stats).toMatchObject({ splitBrain: 0, epochsAcked: 3 });
    expect(formatVerdict(v)).toContain('master epochs acknowledged 3, split-brain acks 0');
  });

  it('reports an old master acknowledging a send invoked after a newer epoch was acknowledged (plus the skew)', () => {
    const h = new H();
    acked(h, 'p1', ['m1'], 0, 5, 1, 'broker.a.1');
    acked(h, 'p1', ['m2'], 1000, 1010, 2, 'broker.a.2');
    acked(h, 'p2', ['m3'], 1400, 1420, 1, 'broker.a.1'); // 390 ms after epoch 2's first ack
    const v = check(h, opts);
    const x = expectOne(v, 'split-brain', ['m3']);
    expect(x.message).toContain('epoch 1');
    expect(x.message).toContain('newer epoch 2');
    expect(x.message).toContain('broker.a.1');
    expect(v.stats.splitBrain).toBe(1);
    // the same history with a larger skew allowed is a legitimate failover
    expect(check(h, { ...opts, brokerGroups: { a: { processes: [], maxClockSkewMs: 500 } } }).ok).toBe(true);
  });

  it('compares with any higher epoch, not only the next', () => {
    const h = new H();
    acked(h, 'p1', ['m1'], 0, 5, 3, 'broker.a.3');
    acked(h, 'p2', ['m2'], 1000, 1010, 1, 'broker.a.1');
    expectOne(check(h, opts), 'split-brain', ['m2']);
  });

  it('reports one epoch acknowledged by two brokers', () => {
    const h = new H();
    acked(h, 'p1', ['m1'], 0, 5, 2, 'broker.a.1');
    acked(h, 'p2', ['m2'], 10, 15, 2, 'broker.a.2');
    const x = expectOne(check(h, opts), 'split-brain', ['m1', 'm2']);
    expect(x.message).toContain('epoch 2 was acknowledged by 2 brokers');
  });

  it('keeps broker groups apart and ignores sends without an epoch', () => {
    const h = new H();
    acked(h, 'p1', ['m1'], 0, 5, 5, 'broker.a.1');
    const value = { topic: 'T', messages: [{ id: 'm2' }] };
    h.at(100).add('p1', 'invoke', 'send', value);
    h.at(110).add('p1', 'ok', 'send', { ...value, broker: 'b', queueId: 0, address: 'broker.b.1', epoch: 1 });
    h.at(200).send('p2', ['m3']);
    expect(check(h, opts).ok).toBe(true);
  });

  it('bounds the master epochs of a group by maxElections, from acks and from the members after the drain', () => {
    const h = new H();
    acked(h, 'p1', ['m1'], 0, 5, 2, 'broker.a.1');
    const bounded = (n: number): Partial<CheckOptions> => ({ ...opts, brokerGroups: { a: { processes: [], maxClockSkewMs: 300, maxElections: n } } });
    expect(check(h, bounded(2)).ok).toBe(true);
    expect(check(h, bounded(1)).violations[0]!.message).toContain('masters flapped');
    h.at(50).add('runner', 'info', 'replication', { group: 'a', master: 'a-2', writeOffsets: { 'a-1': 10, 'a-2': 10 }, epochs: { 'a-1': 4, 'a-2': 4 } });
    const v = check(h, bounded(3));
    expect(v.violations.map((x) => x.check)).toEqual(['split-brain']);
    expect(v.violations[0]!.message).toContain('master epoch 4');
  });
});

it('split-brain: reports a member whose epoch after the drain is below an acknowledged one', () => {
  const h = new H();
  const value = { topic: 'T', messages: [{ id: 'm1' }] };
  h.add('p1', 'invoke', 'send', value);
  h.add('p1', 'ok', 'send', { ...value, broker: 'a', queueId: 0, address: 'broker.a.2', epoch: 3 });
  h.add('runner', 'info', 'replication', { group: 'a', master: 'a-1', writeOffsets: { 'a-1': 10, 'a-2': 10 }, epochs: { 'a-1': 2, 'a-2': 2 } });
  const v = check(h, { checks: ['split-brain'] });
  expect(v.violations.map((x) => x.message)).toEqual([expect.stringContaining('a-1 is in epoch 2 after the drain'), expect.stringContaining('a-2 is in epoch 2 after the drain')]);
});

describe('replication under a controller', () => {
  const op = (h: H, v: unknown): void => void h.add('runner', 'info', 'replication', v);
  it('passes one master whose epoch and log every member holds', () => {
    const h = new H();
    op(h, { group: 'a', master: 'a-2', writeOffsets: { 'a-1': 10, 'a-2': 10 }, epochs: { 'a-1': 3, 'a-2': 3 } });
    expect(check(h, { checks: ['replication'] }).ok).toBe(true);
  });
  it('reports no master, and a member in another epoch', () => {
    const h = new H();
    op(h, { group: 'a', master: '', writeOffsets: { 'a-1': 10, 'a-2': 10 }, epochs: { 'a-1': 3, 'a-2': 3 } });
    op(h, { group: 'b', master: 'b-1', writeOffsets: { 'b-1': 10, 'b-2': 10 }, epochs: { 'b-1': 3, 'b-2': 2 } });
    const v = check(h, { checks: ['replication'] });
    expect(v.violations.map((x) => x.message)).toEqual([
      expect.stringContaining('group a: no one master'),
      expect.stringContaining('group b: b-2 is in epoch 2'),
    ]);
  });
});

describe('checkHistory', () => {
  it('runs only the checks asked for', () => {
    const h = new H().send('p1', ['a']).send('p1', ['b']).receive('c1', 'g1', ['a', 'a', 'zz']);
    expect(check(h).violations.map((x) => x.check)).toEqual(['lost', 'unexpected', 'duplicated']);
    const v = check(h, { checks: ['duplicated'] });
    expect(v.violations.map((x) => x.check)).toEqual(['duplicated']);
    expect(v.stats.lost).toBe(1);
  });

  it('keeps 20 violations per check and counts the rest', () => {
    const ids = Array.from({ length: 25 }, (_, i) => `m${i}`);
    const v = check(new H().send('p1', ids));
    expect(v.violations).toHaveLength(20);
    expect(v.stats).toMatchObject({ lost: 25, suppressed: 5 });
    expect(v.ok).toBe(false);
  });

  it('throws a typed error for bad options and malformed ops', () => {
    expect(() => checkHistory([], { ...base, drainMs: -1 })).toThrow(HistoryCheckError);
    expect(() => checkHistory([], { ...base, checks: ['nope' as CheckName] })).toThrow(HistoryCheckError);
    const bad: HistoryOp = { index: 7, time: 0, process: 'p1', type: 'invoke', f: 'send', value: { topic: 'T' } };
    expect(() => checkHistory([bad], base)).toThrow(/op 7/);
  });

  it('reads ops in index order whatever their order in the array', () => {
    const h = new H().send('p1', ['a']).receive('c1', 'g1', ['a']);
    expect(check(h).ok).toBe(true);
    expect(checkHistory([...h.ops].reverse(), base).ok).toBe(true);
  });
});

describe('formatVerdict', () => {
  it('prints a line of stats, then one line per violation up to the limit', () => {
    const v = check(new H().send('p1', ['a', 'b', 'c']));
    const text = formatVerdict(v, 2);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^FAILED \(3 violations\): sends 3, acked 3/);
    expect(lines[1]).toContain('lost: a (topic T)');
    expect(lines[2]).toContain('lost: b (topic T)');
    expect(lines[3]).toBe('  ... and 1 more');
    expect(formatVerdict(check(new H()))).toMatch(/^OK: sends 0/);
  });
});

/**
 * SUCCESS deliveries of messages delivered once, that were the group's first delivery of the message: one the
 * group first got with a RETRY answer may come back after any later fault, which explains a redelivery.
 */
function firstSuccesses(run: { ops: HistoryOp[]; once: Set<string> }) {
  const retried = new Set<string>();
  for (const op of run.ops) {
    const v = op.value as ReceiveValue;
    if (op.f === 'receive' && v.result === 'RETRY') for (const m of v.messages) retried.add(`${v.group}/${m.id}`);
  }
  return successes(run.ops).filter((d) => run.once.has(d.id) && !retried.has(`${d.group}/${d.id}`));
}

describe('properties over a model queue', () => {
  const opts: CheckOptions = { groups: { [TOPIC]: GROUPS }, orderedTopics: [TOPIC], drainMs: 100_000 };
  const runArb = fc.array(cmdArb, { minLength: 10, maxLength: 80 }).map(simulate);
  const ids = (v: Verdict, name: CheckName) => only(v, name).flatMap((x) => x.ids);

  it('finds nothing in a correct history', () => {
    fc.assert(
      fc.property(runArb, (run) => {
        const v = checkHistory(run.ops, opts);
        expect(v.violations).toEqual([]);
        expect(v.stats.acked).toBe(run.acked.size);
        expect(v.stats.uniqueDelivered).toBeGreaterThanOrEqual(run.acked.size * GROUPS.length);
      }),
    );
  });

  it('reports a dropped delivery of an acknowledged message as lost', () => {
    fc.assert(
      fc.property(runArb, fc.nat(), (run, pick) => {
        const candidates = firstSuccesses(run);
        fc.pre(candidates.length > 0);
        const d = candidates[pick % candidates.length]!;
        const ops = cloneOps(run.ops);
        const messages = (ops[d.op]!.value as { messages: unknown[] }).messages;
        messages.splice(d.pos, 1);
        const v = checkHistory(reindex(messages.length === 0 ? ops.filter((_, i) => i !== d.op) : ops), opts);
        expect(ids(v, 'lost')).toContain(d.id);
        expect(only(v, 'lost').some((x) => x.message.includes(`group ${d.group}`))).toBe(true);
      }),
    );
  });

  it('reports a delivery repeated with no nemesis op between as an unexplained duplicate', () => {
    fc.assert(
      fc.property(runArb, fc.nat(), (run, pick) => {
        const candidates = firstSuccesses(run);
        fc.pre(candidates.length > 0);
        const d = candidates[pick % candidates.length]!;
        const ops = cloneOps(run.ops);
        const original = ops[d.op]!;
        const value = original.value as { messages: unknown[] };
        const again: HistoryOp = { ...original, value: { ...value, messages: [value.messages[d.pos]] } };
        ops.splice(d.op + 1, 0, again);
        const v = checkHistory(reindex(ops), opts);
        expect(ids(v, 'duplicated')).toContain(d.id);
        expect(v.stats.explainedDuplicates).toBe(checkHistory(run.ops, opts).stats.explainedDuplicates);
      }),
    );
  });

  it('reports two deliveries of one ordered key swapped as out of order', () => {
    fc.assert(
      fc.property(runArb, fc.nat(), (run, pick) => {
        const pairs = swappablePairs(run);
        fc.pre(pairs.length > 0);
        const [a, b] = pairs[pick % pairs.length]!;
        const ops = cloneOps(run.ops);
        const at = (d: { op: number; pos: number }) => (ops[d.op]!.value as { messages: unknown[] }).messages;
        const ma = at(a)[a.pos];
        at(a)[a.pos] = at(b)[b.pos];
        at(b)[b.pos] = ma;
        const v = checkHistory(ops, opts);
        expect(only(v, 'order').some((x) => x.ids.includes(a.id) && x.ids.includes(b.id))).toBe(true);
      }),
    );
  });

  it('runs a history of 100k ops in well under a second or two', () => {
    const run = simulate(fc.sample(cmdArb, { numRuns: 60_000, seed: 7 }));
    expect(run.ops.length).toBeGreaterThan(50_000);
    const started = process.hrtime.bigint();
    const v = checkHistory(run.ops, opts);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(v.violations).toEqual([]);
    expect(ms).toBeLessThan(3000);
  });
});

/** Consecutive SUCCESS deliveries to one group of one producer and key, both sent once: (earlier, later). */
function swappablePairs(run: ModelRun) {
  const keyOf = new Map<string, string>();
  for (const op of run.ops) {
    if (op.f !== 'send' || op.type !== 'invoke') continue;
    for (const m of (op.value as { messages: SentMessage[] }).messages) if (m.key !== undefined) keyOf.set(m.id, `${op.process}/${m.key}`);
  }
  const last = new Map<string, ReturnType<typeof successes>[number]>();
  const pairs: [ReturnType<typeof successes>[number], ReturnType<typeof successes>[number]][] = [];
  for (const d of successes(run.ops)) {
    const key = keyOf.get(d.id);
    if (key === undefined || !run.once.has(d.id)) continue;
    const prev = last.get(`${d.group}/${key}`);
    if (prev) pairs.push([prev, d]);
    last.set(`${d.group}/${key}`, d);
  }
  return pairs;
}

it('names every check', () => {
  expect([...ALL_CHECKS].sort()).toEqual(['delay', 'duplicated', 'liveness', 'lost', 'offsets', 'order', 'replication', 'split-brain', 'transactions', 'unexpected']);
});
