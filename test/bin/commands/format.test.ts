import fc from 'fast-check';
import { ago, formatHaStatus, formatTable, makeBody, messageJson, messageLine, permString, printableBody, sendResultJson } from '../../../bin/commands/format.js';
import type { MessageExt } from '../../../core/message.js';
import type { HaGroupStatus } from '../../../actors/client/admin-client.js';
import type { HaStatus } from '../../../actors/protocol/commands.js';

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

describe('message identity in --json output', () => {
  it('a consumed message carries its unique key (UNIQ_KEY) beside its store-side id', () => {
    const m = { ...msg(new TextEncoder().encode('hi')), properties: { UNIQ_KEY: 'C0A8000100002A9F', color: 'red' } };
    const j = messageJson(m);
    expect(j.msgId).toBe('AB');
    expect(j.uniqKey).toBe('C0A8000100002A9F');
    expect(Object.keys(j).slice(0, 2)).toEqual(['msgId', 'uniqKey']);
    expect('uniqKey' in messageJson(msg(new Uint8Array([1])))).toBe(false);
  });

  it('a send result as JSON: status, both ids, and where it was stored', () => {
    const r = { status: 'SEND_OK' as const, msgId: 'AB', uniqKey: 'U1', queue: { topic: 't', brokerName: 'b', queueId: 3 }, queueOffset: 9 };
    expect(sendResultJson(r)).toEqual({ status: 'SEND_OK', msgId: 'AB', uniqKey: 'U1', brokerName: 'b', queueId: 3, queueOffset: 9 });
    const { uniqKey: _u, ...without } = r;
    expect('uniqKey' in sendResultJson(without)).toBe(false);
  });
});

describe('replication status', () => {
  it('says how long ago, for people', () => {
    expect(ago(1234, 1)).toBe('1.2 s ago');
    expect(ago(0, 1)).toBe('0.0 s ago');
    expect(ago(-40, 1)).toBe('0.0 s ago');
    expect(ago(150_000, 1)).toBe('2.5 min ago');
    expect(ago(3 * 3_600_000, 1)).toBe('3.0 h ago');
    expect(ago(1_700_000_000_000, 0)).toBe('never');
  });

  const master: HaStatus = {
    brokerName: 'b', brokerId: 0, address: 'broker.b.0', role: 'master', mode: 'sync', master: 'broker.b.0',
    writeOffset: 4096, flushedOffset: 4000, inSync: [0, 1], minInSyncReplicas: 2,
    slaves: [
      { brokerId: 1, address: 'broker.b.1', ackOffset: 4096, lagBytes: 0, lagMessages: 0, lastContact: 1000, sinceContactMs: 1200, inSync: true },
      { brokerId: 2, address: 'broker.b.2', ackOffset: 1024, lagBytes: 3072, lastContact: 1000, sinceContactMs: 20_000, inSync: false },
    ],
  };
  const group = (g: Partial<HaGroupStatus>): HaGroupStatus => ({ brokerName: 'b', cluster: 'C', brokers: [], unreachable: [], ...g });

  it('shows the master, then each slave as the master sees it, then who did not answer', () => {
    const text = formatHaStatus(group({ brokers: [master], unreachable: [{ brokerId: 2, address: 'broker.b.2', error: 'no responders' }] }));
    expect(text).toBe(
      [
        'broker group b (cluster C)',
        '',
        'MASTER      ID  MODE  WRITE OFFSET  FLUSHED  IN SYNC  MIN IN SYNC',
        'broker.b.0   0  sync          4096     4000  0,1                2',
        '',
        'SLAVE  ADDRESS     ACK OFFSET  LAG BYTES  LAG MESSAGES  LAST CONTACT  IN SYNC',
        '    1  broker.b.1        4096          0  0             1.2 s ago     yes',
        '    2  broker.b.2        1024       3072  -             20.0 s ago    no',
        '',
        'UNREACHABLE  ID  ERROR',
        'broker.b.2    2  no responders',
      ].join('\n'),
    );
  });

  it('shows an epoch when the master reports one', () => {
    const text = formatHaStatus(group({ brokers: [{ ...master, slaves: [], epoch: 7 }] }));
    expect(text).toContain('MASTER      ID  MODE  EPOCH  WRITE OFFSET');
    expect(text).toContain('broker.b.0   0  sync      7          4096');
    expect(text).toContain('slaves: none');
  });

  it('under a controller: the epoch and the confirm offset; of two masters, the higher epoch', () => {
    const old: HaStatus = { ...master, address: 'broker.b.1', brokerId: 1, slaves: [], epoch: 2, confirmOffset: 100 };
    const now: HaStatus = { ...master, address: 'broker.b.2', brokerId: 2, slaves: [], epoch: 3, confirmOffset: 4000 };
    const text = formatHaStatus(group({ brokers: [old, now] }));
    expect(text).toContain('MASTER      ID  MODE  EPOCH  CONFIRMED  WRITE OFFSET  FLUSHED  IN SYNC  MIN IN SYNC');
    expect(text).toContain('broker.b.2   2  sync      3       4000          4096     4000  0,1                2');
  });

  it('without a master answering: says so, and shows the slaves as they see themselves', () => {
    const slave: HaStatus = {
      brokerName: 'b', brokerId: 1, address: 'broker.b.1', role: 'slave', master: 'broker.b.0', writeOffset: 100, flushedOffset: 100,
      slaves: [{ brokerId: 1, address: 'broker.b.1', ackOffset: 100, lagBytes: 5, lastContact: 0, sinceContactMs: 99, inSync: false }],
    };
    const text = formatHaStatus(group({ brokers: [slave], unreachable: [{ brokerId: 0, address: 'broker.b.0', error: 'timeout' }] }));
    expect(text).toContain('master: no answer (see below)');
    expect(text).toMatch(/ {4}1 {2}broker\.b\.1 +100 +5 +- +never +unknown \(no master answered\)/);
    expect(text).toMatch(/broker\.b\.0 +0 +timeout/);
    expect(formatHaStatus(group({}))).toContain('master: none registered');
  });
});
