import fc from 'fast-check';
import { HandleLru, closable, lruNode, type LruNode } from '../../store/handle-lru.js';

interface Named extends LruNode {
  name: string;
}
const node = (name: string): Named => ({ ...lruNode(), name });
const names = (ns: Named[]): string[] => ns.map((n) => n.name);

describe('HandleLru', () => {
  it('keeps nodes most recently used first', () => {
    const lru = new HandleLru<Named>();
    const [a, b, c] = [node('a'), node('b'), node('c')];
    lru.use(a, 1);
    lru.use(b, 2);
    lru.use(c, 3);
    expect(names(lru.toArray())).toEqual(['c', 'b', 'a']);
    lru.use(a, 4);
    expect(names(lru.toArray())).toEqual(['a', 'c', 'b']);
    lru.use(a, 5); // already first
    expect(lru.size).toBe(3);
    lru.remove(c);
    lru.remove(c);
    expect(names(lru.toArray())).toEqual(['a', 'b']);
    expect(lru.size).toBe(2);
  });

  it('names victims least recently used first, never a held or busy node nor the one being opened', () => {
    const lru = new HandleLru<Named>();
    const ns = ['a', 'b', 'c', 'd', 'e'].map(node);
    ns.forEach((n, i) => lru.use(n, i));
    expect(names(lru.victims(3))).toEqual(['a', 'b']);
    ns[0]!.held = true;
    ns[1]!.refs = 1;
    expect(names(lru.victims(3))).toEqual(['c', 'd']);
    expect(names(lru.victims(3, ns[2]))).toEqual(['d', 'e']);
    expect(names(lru.victims(0))).toEqual(['c', 'd', 'e']); // fewer than the excess: the rest are held or busy
    expect(lru.victims(5)).toEqual([]);
  });

  it('names idle nodes by last use, and when the next one goes idle', () => {
    const lru = new HandleLru<Named>();
    const [a, b, c] = [node('a'), node('b'), node('c')];
    lru.use(a, 10);
    lru.use(b, 20);
    lru.use(c, 30);
    expect(names(lru.idleSince(20))).toEqual(['a', 'b']);
    a.held = true;
    expect(names(lru.idleSince(20))).toEqual(['b']);
    expect(lru.oldestClosableUse()).toBe(20);
    lru.use(b, 40);
    expect(lru.oldestClosableUse()).toBe(30);
    expect(lru.idleSince(29)).toEqual([]);
  });

  it('matches a model under random operations (order, victims, idle)', () => {
    type Op =
      | { kind: 'use'; i: number; dt: number }
      | { kind: 'remove'; i: number }
      | { kind: 'hold'; i: number; on: boolean }
      | { kind: 'busy'; i: number; d: 1 | -1 }
      | { kind: 'evict'; limit: number }
      | { kind: 'idle'; age: number };
    const N = 8;
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('use' as const), i: fc.nat(N - 1), dt: fc.nat(5) }),
      fc.record({ kind: fc.constant('remove' as const), i: fc.nat(N - 1) }),
      fc.record({ kind: fc.constant('hold' as const), i: fc.nat(N - 1), on: fc.boolean() }),
      fc.record({ kind: fc.constant('busy' as const), i: fc.nat(N - 1), d: fc.constantFrom(1 as const, -1 as const) }),
      fc.record({ kind: fc.constant('evict' as const), limit: fc.nat(N) }),
      fc.record({ kind: fc.constant('idle' as const), age: fc.nat(20) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const lru = new HandleLru<Named>();
        const nodes = Array.from({ length: N }, (_, i) => node(String(i)));
        // the model: open nodes, most recent first, with their last use
        let model: Array<{ n: Named; at: number }> = [];
        let now = 0;
        for (const o of ops) {
          switch (o.kind) {
            case 'use': {
              now += o.dt;
              const n = nodes[o.i]!;
              lru.use(n, now);
              model = [{ n, at: now }, ...model.filter((m) => m.n !== n)];
              break;
            }
            case 'remove':
              lru.remove(nodes[o.i]!);
              model = model.filter((m) => m.n !== nodes[o.i]);
              break;
            case 'hold':
              nodes[o.i]!.held = o.on;
              break;
            case 'busy':
              nodes[o.i]!.refs = Math.max(0, nodes[o.i]!.refs + o.d);
              break;
            case 'evict': {
              const v = lru.victims(o.limit);
              const candidates = [...model].reverse().filter((m) => closable(m.n));
              const want = candidates.slice(0, Math.max(0, model.length - o.limit)).map((m) => m.n);
              expect(v).toEqual(want);
              for (const x of v) {
                expect(closable(x)).toBe(true);
                lru.remove(x);
              }
              model = model.filter((m) => !v.includes(m.n));
              // the limit holds unless what is left over it is held or busy
              if (model.length > o.limit) expect(model.every((m) => !closable(m.n))).toBe(true);
              break;
            }
            case 'idle': {
              const cutoff = now - o.age;
              const v = lru.idleSince(cutoff);
              expect(v).toEqual([...model].reverse().filter((m) => m.at <= cutoff && closable(m.n)).map((m) => m.n));
              for (const x of v) lru.remove(x);
              model = model.filter((m) => !v.includes(m.n));
              break;
            }
          }
          expect(lru.toArray()).toEqual(model.map((m) => m.n));
          expect(lru.size).toBe(model.length);
          const closableUses = model.filter((m) => closable(m.n)).map((m) => m.at);
          expect(lru.oldestClosableUse()).toBe(closableUses.length === 0 ? undefined : closableUses[closableUses.length - 1]);
        }
      }),
      { numRuns: 300 },
    );
  });
});
