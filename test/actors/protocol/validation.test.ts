import fc from 'fast-check';
import type { Message } from '../../../core/message.js';
import { Status, StatusError } from '../../../core/status.js';
import {
  isSystemTopic,
  messageProblem,
  validateBatch,
  validateGroup,
  validateMessage,
  validateTopic,
} from '../../../actors/protocol/validation.js';

const body = new Uint8Array([1]);

function statusOf(fn: () => void): number | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof StatusError)) throw err;
    return err.status;
  }
}

describe('validateTopic', () => {
  it('accepts names of allowed characters up to 127 long', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_%|-]{1,127}$/), (name) => {
        const st = statusOf(() => validateTopic(name, { allowSystem: true }));
        // system-looking names may still fail on their group part, but never with another status
        return st === undefined || (st === Status.INVALID_ARGUMENT && isSystemTopic(name));
      }),
      { numRuns: 1000 },
    );
  });

  it('rejects empty, too long, and names with other characters', () => {
    for (const bad of ['', 'a'.repeat(128), 'a b', 'a/b', '../x', 'é', 'a.b', 'a\n']) {
      expect(statusOf(() => validateTopic(bad))).toBe(Status.INVALID_ARGUMENT);
    }
    expect(statusOf(() => validateTopic(42 as unknown as string))).toBe(Status.INVALID_ARGUMENT);
    expect(() => validateTopic('a b')).toThrow(/may only contain/);
    expect(statusOf(() => validateTopic('a'.repeat(127)))).toBeUndefined();
  });

  it('reserves system topics unless allowed', () => {
    for (const sys of ['%RETRY%billing', '%DLQ%billing', 'RMQ_SYS_TRANS_HALF_TOPIC', 'SCHEDULE_TOPIC_XXXX', 'TBW102']) {
      expect(() => validateTopic(sys)).toThrow(/reserved/);
      expect(statusOf(() => validateTopic(sys, { allowSystem: true }))).toBeUndefined();
    }
    expect(statusOf(() => validateTopic('%RETRY%', { allowSystem: true }))).toBe(Status.INVALID_ARGUMENT);
  });
});

describe('validateGroup', () => {
  it('accepts valid names and rejects others', () => {
    expect(statusOf(() => validateGroup('billing-cg_1'))).toBeUndefined();
    expect(statusOf(() => validateGroup('g'.repeat(255)))).toBeUndefined();
    for (const bad of ['', 'g'.repeat(256), 'a b', 'a:b']) expect(statusOf(() => validateGroup(bad))).toBe(Status.INVALID_ARGUMENT);
  });
});

describe('validateMessage', () => {
  it('accepts a full valid message', () => {
    expect(
      statusOf(() =>
        validateMessage({ topic: 'orders', body, tags: 'paid', keys: ['o-42', 'c-7'], properties: { region: 'eu west' }, delayLevel: 3, shardingKey: 'c-7' }),
      ),
    ).toBeUndefined();
  });

  it('gives MESSAGE_ILLEGAL for bad parts', () => {
    const bad: Message[] = [
      { topic: 'a b', body },
      { topic: 't', body: new Uint8Array(0) },
      { topic: 't', body: 'x' as unknown as Uint8Array },
      { topic: 't', body, tags: '' },
      { topic: 't', body, tags: 'a||b' },
      { topic: 't', body, tags: 'a b' },
      { topic: 't', body, tags: '*' },
      { topic: 't', body, keys: [''] },
      { topic: 't', body, keys: ['a b'] },
      { topic: 't', body, properties: { '': 'x' } },
      { topic: 't', body, properties: { UNIQ_KEY: 'x' } },
      { topic: 't', body, properties: { a: 'x'.repeat(40000) } },
      { topic: 't', body, delayLevel: 19 },
      { topic: 't', body, delayLevel: -1 },
      { topic: 't', body, delayLevel: 1.5 },
      { topic: 't', body, deliverAt: -5 },
      { topic: 't', body, deliverAt: 5, delayLevel: 2 },
      { topic: 't', body, shardingKey: '' },
      { topic: '%DLQ%g', body },
    ];
    for (const m of bad) {
      const p = messageProblem(m);
      expect(p?.[0]).toBe(Status.MESSAGE_ILLEGAL);
      expect(p?.[1].length).toBeGreaterThan(5);
    }
  });

  it('gives MESSAGE_TOO_LARGE above maxBodyBytes', () => {
    expect(statusOf(() => validateMessage({ topic: 't', body: new Uint8Array(11) }, { maxBodyBytes: 10 }))).toBe(Status.MESSAGE_TOO_LARGE);
    expect(statusOf(() => validateMessage({ topic: 't', body: new Uint8Array(10) }, { maxBodyBytes: 10 }))).toBeUndefined();
    expect(statusOf(() => validateMessage({ topic: 't', body: new Uint8Array(4 * 1024 * 1024 + 1) }))).toBe(Status.MESSAGE_TOO_LARGE);
  });

  it('honours maxDelayLevel and allowSystem', () => {
    expect(statusOf(() => validateMessage({ topic: 't', body, delayLevel: 20 }, { maxDelayLevel: 20 }))).toBeUndefined();
    expect(statusOf(() => validateMessage({ topic: '%RETRY%g', body }, { allowSystem: true }))).toBeUndefined();
  });
});

describe('validateBatch', () => {
  it('gives the verdict of checking every message on its own, whatever repeats (property)', () => {
    // mostly valid messages (so that runs of them reach the shortcuts), now and then one thing wrong
    const arbMsg: fc.Arbitrary<Message> = fc.record(
      {
        topic: fc.constantFrom('t', 't', 't', 'u', 'bad topic'),
        body: fc.constantFrom(body, body, body, new Uint8Array(0), new Uint8Array(20)),
        tags: fc.option(fc.constantFrom('a', 'a', 'b', 'bad tag', ''), { nil: undefined, freq: 3 }),
        keys: fc.option(fc.constantFrom(['k'], ['k'], ['bad key']).map((k) => [...k]), { nil: undefined, freq: 2 }),
        properties: fc.option(fc.constantFrom<Record<string, string>>({ p: 'v' }, { p: 'v' }, { UNIQ_KEY: 'x' }), { nil: undefined, freq: 2 }),
        delayLevel: fc.option(fc.constantFrom(1, 1, 99), { nil: undefined, freq: 2 }),
      },
    );
    fc.assert(
      fc.property(fc.array(arbMsg, { minLength: 1, maxLength: 8 }), (msgs) => {
        const rules = { maxBodyBytes: 10, maxBatchBytes: 1000 };
        let want: string | undefined;
        msgs.forEach((m, i) => {
          if (want !== undefined) return;
          const p = messageProblem(m, rules);
          if (p) want = `message ${i}: ${p[1]}`;
          else if (m.topic !== msgs[0]!.topic) want = `message ${i}: a batch must have one topic`;
        });
        let got: string | undefined;
        try {
          validateBatch(msgs, rules);
        } catch (err) {
          got = (err as Error).message;
        }
        if (want === undefined) expect(got).toBeUndefined();
        else expect(got).toContain(want);
      }),
      { numRuns: 3000 },
    );
  });

  it('needs one topic, valid messages, bounded total size', () => {
    expect(statusOf(() => validateBatch([{ topic: 't', body }, { topic: 't', body }]))).toBeUndefined();
    expect(statusOf(() => validateBatch([]))).toBe(Status.MESSAGE_ILLEGAL);
    expect(() => validateBatch([{ topic: 't', body }, { topic: 'u', body }])).toThrow(/one topic/);
    expect(() => validateBatch([{ topic: 't', body }, { topic: 't', body: new Uint8Array(0) }])).toThrow(/message 1/);
    expect(statusOf(() => validateBatch([{ topic: 't', body: new Uint8Array(6) }, { topic: 't', body: new Uint8Array(6) }], { maxBatchBytes: 10 }))).toBe(
      Status.MESSAGE_TOO_LARGE,
    );
  });
});
