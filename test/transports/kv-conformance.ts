/**
 * What every transport's key-value buckets must do, run on each (memory-kv.test.ts, nats-kv.test.ts):
 *
 *   kvConformance('memory', async () => ({ a, b, close }));
 *
 * `a` and `b` are two transports of one network (the same bucket name opens the same bucket on both). Each case
 * uses a bucket name of its own.
 */
import { KvConflictError, KvError, type KvBucket, type Transport } from '../../transports/transport.js';

export interface KvPair {
  a: Transport;
  b: Transport;
  close(): Promise<void>;
}

let seq = 0;
const bucketName = (): string => `kvconf-${process.pid}-${++seq}`;
const utf8 = new TextEncoder();
const text = (s: string): Uint8Array => utf8.encode(s);
const str = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));

export function kvConformance(name: string, open: () => Promise<KvPair>): void {
  describe(`${name} key-value buckets`, () => {
    let pair: KvPair;
    const bucketOf = (t: Transport, bucket: string): Promise<KvBucket> => {
      if (t.keyValue === undefined) throw new Error(`${name} transport has no keyValue`);
      return t.keyValue(bucket);
    };

    beforeEach(async () => {
      pair = await open();
    });
    afterEach(async () => {
      await pair.close();
    });

    test('get of an absent key is undefined; create then get returns the value and its revision', async () => {
      const kv = await bucketOf(pair.a, bucketName());
      expect(kv.name).toMatch(/^kvconf-/);
      expect(await kv.get('group.a')).toBeUndefined();
      const rev = await kv.create('group.a', text('one'));
      expect(rev).toBeGreaterThan(0);
      const e = await kv.get('group.a');
      expect(str(e?.value)).toBe('one');
      expect(e?.revision).toBe(rev);
    });

    test('create of an existing key is a KvConflictError and changes nothing', async () => {
      const kv = await bucketOf(pair.a, bucketName());
      const rev = await kv.create('k', text('first'));
      const err = await kv.create('k', text('second')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KvConflictError);
      expect((err as KvConflictError).key).toBe('k');
      expect((err as KvConflictError).expected).toBe(0);
      const e = await kv.get('k');
      expect(str(e?.value)).toBe('first');
      expect(e?.revision).toBe(rev);
    });

    test('update over the current revision writes a higher revision; over any other revision it conflicts', async () => {
      const kv = await bucketOf(pair.a, bucketName());
      const r1 = await kv.create('k', text('v1'));
      const r2 = await kv.update('k', text('v2'), r1);
      expect(r2).toBeGreaterThan(r1);
      expect(str((await kv.get('k'))?.value)).toBe('v2');
      await expect(kv.update('k', text('stale'), r1)).rejects.toBeInstanceOf(KvConflictError);
      await expect(kv.update('k', text('future'), r2 + 100)).rejects.toBeInstanceOf(KvConflictError);
      const e = await kv.get('k');
      expect(str(e?.value)).toBe('v2');
      expect(e?.revision).toBe(r2);
    });

    test('update of an absent key conflicts', async () => {
      const kv = await bucketOf(pair.a, bucketName());
      const other = await kv.create('other', text('x'));
      const err = await kv.update('absent', text('v'), other).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KvConflictError);
      expect((err as KvConflictError).expected).toBe(other);
      expect(await kv.get('absent')).toBeUndefined();
    });

    test('revisions increase over the whole bucket, not per key', async () => {
      const kv = await bucketOf(pair.a, bucketName());
      const r1 = await kv.create('x', text('1'));
      const r2 = await kv.create('y', text('1'));
      const r3 = await kv.update('x', text('2'), r1);
      expect(r2).toBeGreaterThan(r1);
      expect(r3).toBeGreaterThan(r2);
      expect((await kv.get('y'))?.revision).toBe(r2);
    });

    test('two transports of one network share a bucket; of two writes over one revision exactly one wins', async () => {
      const bucket = bucketName();
      const ka = await bucketOf(pair.a, bucket);
      const kb = await bucketOf(pair.b, bucket);
      const r1 = await ka.create('group.g', text('base'));
      expect(str((await kb.get('group.g'))?.value)).toBe('base');
      const results = await Promise.allSettled([ka.update('group.g', text('from a'), r1), kb.update('group.g', text('from b'), r1)]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]!.reason).toBeInstanceOf(KvConflictError);
      const winner = results[0]!.status === 'fulfilled' ? 'from a' : 'from b';
      expect(str((await ka.get('group.g'))?.value)).toBe(winner);
      // two creates of one absent key: exactly one wins too
      const creates = await Promise.allSettled([ka.create('group.h', text('a')), kb.create('group.h', text('b'))]);
      expect(creates.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    });

    test('buckets are separate: a key in one is absent from another', async () => {
      const k1 = await bucketOf(pair.a, bucketName());
      const k2 = await bucketOf(pair.a, bucketName());
      await k1.create('k', text('v'));
      expect(await k2.get('k')).toBeUndefined();
    });

    test('values are bytes, kept as written (binary and empty values too)', async () => {
      const kv = await bucketOf(pair.a, bucketName());
      const bin = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff);
      await kv.create('bin', bin);
      bin[0] = 99; // the bucket holds its own copy
      expect(Array.from((await kv.get('bin'))!.value)).toEqual(Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff));
      await kv.create('empty', new Uint8Array(0));
      expect((await kv.get('empty'))?.value.length).toBe(0);
    });

    test('keys and bucket names NATS does not allow fail with KvError INVALID', async () => {
      const kv = await bucketOf(pair.a, bucketName());
      for (const key of ['', 'a b', '.a', 'a.', 'a..b', 'a*', 'a>', 'ü']) {
        const err = await kv.create(key, text('v')).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(KvError);
        expect((err as KvError).code).toBe('INVALID');
      }
      await expect(kv.get('a b')).rejects.toMatchObject({ code: 'INVALID' });
      await expect(kv.update('k', text('v'), 0)).rejects.toMatchObject({ code: 'INVALID' });
      await expect(pair.a.keyValue!('no.dots')).rejects.toMatchObject({ name: 'KvError', code: 'INVALID' });
      // every character a key may hold
      await kv.create('a-b/c_d=e.F9', text('ok'));
      expect(str((await kv.get('a-b/c_d=e.F9'))?.value)).toBe('ok');
    });

    test('a closed transport fails its bucket operations with KvError CLOSED', async () => {
      const bucket = bucketName();
      const kv = await bucketOf(pair.a, bucket);
      await kv.create('k', text('v'));
      await pair.a.close();
      await expect(kv.get('k')).rejects.toMatchObject({ name: 'KvError', code: 'CLOSED' });
      await expect(pair.a.keyValue!(bucket)).rejects.toMatchObject({ name: 'KvError', code: 'CLOSED' });
      // the bucket itself lives on for the others
      expect(str((await (await bucketOf(pair.b, bucket)).get('k'))?.value)).toBe('v');
    });
  });
}
