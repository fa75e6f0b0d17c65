import { FrameKind, type Frame, type Header } from '../../../../transports/frame.js';
import { Status } from '../../../../core/status.js';
import { RequestCode } from '../../../../actors/protocol/request-codes.js';
import { parseAclFile } from '../../../../actors/protocol/acl/acl-file.js';
import { authorize } from '../../../../actors/protocol/acl/authorize.js';
import { accessNeed } from '../../../../actors/protocol/acl/access.js';
import { signFrame } from '../../../../actors/protocol/acl/signing.js';
import { encodeSendMany } from '../../../../actors/protocol/send-many.js';

const NOW = 1_700_000_000_000;
const WINDOW = 60_000;
const rules = parseAclFile(
  new TextEncoder().encode(
    JSON.stringify({
      accounts: [
        { accessKey: 'producer-ak', secretKey: 'producer-sk', topicPerms: ['orders=PUB', 'audit=DENY'], defaultTopicPerm: 'PUB|SUB' },
        { accessKey: 'consumer-ak', secretKey: 'consumer-sk', defaultTopicPerm: 'SUB', groupPerms: ['billing=SUB'] },
        { accessKey: 'broker-ak', secretKey: 'broker-sk', broker: true },
        { accessKey: 'admin-ak', secretKey: 'admin-sk', admin: true },
      ],
    }),
  ),
);
const keys: Record<string, string> = { 'producer-ak': 'producer-sk', 'consumer-ak': 'consumer-sk', 'broker-ak': 'broker-sk', 'admin-ak': 'admin-sk' };

function req(code: number, header: Header, body: unknown = undefined): Frame {
  const b = body === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(body));
  return { kind: FrameKind.Request, code, requestId: 1, status: 0, header, body: b };
}
const by = (ak: string, f: Frame, at = NOW): Frame => signFrame(f, { accessKey: ak, secretKey: keys[ak]! }, at);
const verdict = (f: Frame) => authorize(rules, f, NOW, WINDOW);
const refusal = (f: Frame): string => {
  const v = verdict(f);
  if (v.ok) throw new Error('expected a refusal');
  expect(v.status).toBe(Status.NO_PERMISSION);
  return v.message;
};

const send = (topic: string) => req(RequestCode.SEND_BATCH_MESSAGE, { topic, producerGroup: 'pg', queueId: 0 });
const pull = (topic: string, group: string) => req(RequestCode.PULL_MESSAGE, { topic, consumerGroup: group, queueId: 0, queueOffset: 0 });

describe('ACL decisions', () => {
  it('lets a send through with PUB on the topic, from the topic entry or the default', () => {
    expect(verdict(by('producer-ak', send('orders'))).ok).toBe(true);
    expect(verdict(by('producer-ak', send('anything'))).ok).toBe(true);
  });

  it('refuses a send without PUB, naming PUB and the topic; DENY wins over the default', () => {
    expect(refusal(by('consumer-ak', send('orders')))).toMatch(/account "consumer-ak" lacks PUB on topic "orders"/);
    expect(refusal(by('producer-ak', send('audit')))).toMatch(/lacks PUB on topic "audit"/);
  });

  it('needs PUB on every topic of a SEND_MANY, and names the one that lacks it', () => {
    const part = (topic: string) => ({ topic, queueId: 0, uniqPrefix: '0123456789ABCDEF01234567', uniqFirst: 0, batch: new Uint8Array(0) });
    const many = (...topics: string[]): Frame => ({ ...req(RequestCode.SEND_MANY, { producerGroup: 'pg' }), body: encodeSendMany(topics.map(part)) });
    expect(verdict(by('producer-ak', many('orders', 'anything', 'orders'))).ok).toBe(true);
    expect(refusal(by('producer-ak', many('orders', 'audit')))).toMatch(/lacks PUB on topic "audit"/);
    expect(refusal(by('consumer-ak', many('orders')))).toMatch(/lacks PUB on topic "orders"/);
    expect(verdict(by('producer-ak', { ...many('orders'), body: new Uint8Array([0, 1]) }))).toMatchObject({ ok: false, status: Status.BAD_FRAME });
  });

  it('needs SUB on the topic and on the group for pulls, offsets, locks and heartbeats', () => {
    expect(verdict(by('consumer-ak', pull('orders', 'billing'))).ok).toBe(true);
    expect(refusal(by('consumer-ak', pull('orders', 'reports')))).toMatch(/lacks SUB on group "reports"/);
    expect(refusal(by('producer-ak', pull('orders', 'billing')))).toMatch(/lacks SUB on topic "orders"/);
    const commit = req(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'billing' }, { offsets: [{ topic: 'orders', queueId: 0, offset: 1 }] });
    expect(verdict(by('consumer-ak', commit)).ok).toBe(true);
    const hb = (group: string) => req(RequestCode.HEART_BEAT, { clientId: 'c' }, { producerGroups: [], consumers: [{ group, messageModel: 'CLUSTERING', subscriptions: { orders: '*', [`%RETRY%${group}`]: '*' } }] });
    expect(verdict(by('consumer-ak', hb('billing'))).ok).toBe(true);
    expect(refusal(by('consumer-ak', hb('reports')))).toMatch(/lacks SUB on group "reports"/);
    const lock = req(RequestCode.LOCK_BATCH_MQ, { consumerGroup: 'billing', clientId: 'c' }, { queues: [{ topic: 'orders', queueId: 1 }] });
    expect(verdict(by('consumer-ak', lock)).ok).toBe(true);
    expect(verdict(by('consumer-ak', req(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'billing', topic: 'orders', queueId: 0 }))).ok).toBe(true);
  });

  it('treats retry and dead-letter topics as their group', () => {
    expect(accessNeed(pull('%RETRY%billing', 'billing'))).toEqual({
      kind: 'resources',
      needs: [
        { kind: 'group', name: 'billing', perm: 2 },
        { kind: 'group', name: 'billing', perm: 2 },
      ],
    });
    expect(verdict(by('consumer-ak', pull('%RETRY%billing', 'billing'))).ok).toBe(true);
  });

  it('keeps admin requests to admin accounts and registrations to admin or broker accounts', () => {
    const create = req(RequestCode.UPDATE_AND_CREATE_TOPIC, {}, { topicName: 'x' });
    expect(refusal(by('producer-ak', create))).toMatch(/"producer-ak" is not an admin account, which UPDATE_AND_CREATE_TOPIC needs/);
    expect(verdict(by('admin-ak', create)).ok).toBe(true);
    const register = req(RequestCode.REGISTER_BROKER, { cluster: 'c', brokerName: 'b', brokerId: 0, address: 'a' }, { topics: [] });
    expect(verdict(by('broker-ak', register)).ok).toBe(true);
    expect(verdict(by('admin-ak', register)).ok).toBe(true);
    expect(refusal(by('producer-ak', register))).toMatch(/neither an admin nor a broker account/);
    expect(refusal(by('broker-ak', create))).toMatch(/not an admin account/);
    // a code the table does not list is an admin's
    expect(refusal(by('producer-ak', req(9999, {})))).toMatch(/REQUEST_9999/);
  });

  it('lets any valid account look routes up', () => {
    expect(verdict(by('consumer-ak', req(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'orders' }))).ok).toBe(true);
  });

  it('refuses unsigned, unknown, forged, replayed and future requests before reading the body', () => {
    expect(refusal(send('orders'))).toMatch(/SEND_BATCH_MESSAGE is not signed/);
    expect(refusal(signFrame(send('orders'), { accessKey: 'nobody-ak', secretKey: 'x' }, NOW))).toMatch(/unknown access key "nobody-ak"/);
    expect(refusal(signFrame(send('orders'), { accessKey: 'producer-ak', secretKey: 'wrong-secret' }, NOW))).toMatch(/signature does not match/);
    expect(refusal(by('producer-ak', send('orders'), NOW - WINDOW - 1))).toMatch(/old, outside the 60000 ms window/);
    expect(refusal(by('producer-ak', send('orders'), NOW + WINDOW + 1))).toMatch(/ahead/);
    // a forged signature on a malformed heartbeat is refused for the signature, not parsed
    const junk = { ...req(RequestCode.HEART_BEAT, { clientId: 'c' }), body: new Uint8Array([1, 2, 3]) };
    expect(refusal(signFrame(junk, { accessKey: 'consumer-ak', secretKey: 'wrong-secret' }, NOW))).toMatch(/signature/);
    const v = verdict(by('consumer-ak', junk));
    expect(v).toMatchObject({ ok: false, status: Status.BAD_FRAME });
  });
});
