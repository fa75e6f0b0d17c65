import fc from 'fast-check';
import { formatTable, makeBody, messageJson, messageLine, permString, printableBody } from '../../../bin/commands/format.js';
import type { MessageExt } from '../../../core/message.js';

const msg = (body: Uint8Array): MessageExt => ({
  msgId: 'AB',
  topic: 't',
  queueId: 1,
  queueOffset: 7,
  commitLogOffset: 0,
  bornTimestamp: 1,
  storeTimestamp: 2,
  reconsumeTimes: 0,
  bornHost: 'c',
  storeHost: 'broker.a.0',
  tags: 'paid',
  keys: ['k1'],
  body,
});

describe('formatTable', () => {
  it('pads columns, right-aligns numbers and trims line ends', () => {
    expect(formatTable(['NAME', 'N', 'NOTE'], [['a', 1, 'x'], ['long-name', 100, '']])).toBe(['NAME         N  NOTE', 'a            1  x', 'long-name  100'].join('\n'));
  });

  it('gives every row the same column starts', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.stringMatching(/^[a-z]{0,8}$/), fc.nat(99999), fc.stringMatching(/^[a-z]{1,8}$/)), { maxLength: 10 }), (rows) => {
        const lines = formatTable(['A', 'B', 'C'], rows).split('\n');
        expect(lines).toHaveLength(rows.length + 1);
        const starts = lines.map((l, i) => (i === 0 ? l.indexOf('C') : l.lastIndexOf(rows[i - 1]![2])));
        expect(new Set(starts).size).toBe(1);
      }),
      { numRuns: 100 },
    );
  });
});

describe('message output', () => {
  it('shows printable bodies as text and others as base64', () => {
    expect(printableBody(new TextEncoder().encode('héllo\n\tworld'))).toBe('héllo\n\tworld');
    expect(printableBody(new Uint8Array([0xff, 0xfe]))).toBeUndefined();
    expect(printableBody(new Uint8Array([104, 0, 105]))).toBeUndefined();
    const text = messageJson(msg(new TextEncoder().encode('hi')));
    expect(text).toEqual(expect.objectContaining({ msgId: 'AB', topic: 't', queueId: 1, queueOffset: 7, body: 'hi', bodyLength: 2, keys: ['k1'], tags: 'paid' }));
    expect(text.bodyBase64).toBeUndefined();
    const bin = messageJson(msg(new Uint8Array([0, 1, 2])));
    expect(bin.body).toBeUndefined();
    expect(bin.bodyBase64).toBe('AAEC');
    expect(messageLine(msg(new Uint8Array([0, 1, 2])))).toBe('t/1@7 AB tags=paid keys=k1 <3 bytes, binary>');
  });

  it('makes bodies of exactly the asked size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.nat(1000), (size, i) => {
        const b = makeBody(`message ${i}`, size);
        expect(b.length).toBe(size);
        expect(printableBody(b)).toBeDefined();
      }),
      { numRuns: 100 },
    );
    expect(new TextDecoder().decode(makeBody('message 3', undefined))).toBe('message 3');
  });

  it('writes permissions as RW flags', () => {
    expect([6, 4, 2, 0].map(permString)).toEqual(['RW', 'R-', '-W', '--']);
  });
});
