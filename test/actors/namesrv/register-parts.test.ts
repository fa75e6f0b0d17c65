import fc from 'fast-check';
import { handleNamesrvRequest } from '../../../actors/namesrv/namesrv-requests.js';
import { expirePending, NO_PENDING, takePart, type PendingRegistrations } from '../../../actors/namesrv/register-parts.js';
import { emptyRouteTable, routeByTopic, topicList, type RouteTable } from '../../../actors/namesrv/route-table.js';
import type { RegisterBrokerBody } from '../../../actors/protocol/commands.js';
import { BODY_ENCODING_HEADER, DEFLATE, encodeRegisterBody } from '../../../actors/protocol/register-body.js';
import { request } from '../../../actors/protocol/replies.js';
import { RequestCode } from '../../../actors/protocol/request-codes.js';
import { Status, StatusError } from '../../../core/status.js';
import { randomTopicNames, topicConfigs } from '../../support/topic-names.js';

const id = { cluster: 'c1', brokerName: 'a', brokerId: 0, address: 'broker.a.0' };
const body = (names: string[], counter = 1): RegisterBrokerBody => ({ dataVersion: { timestamp: 5, counter }, topics: topicConfigs(names) });

/** The REGISTER_BROKER frames a broker sends for `b` under a body budget. */
function frames(b: RegisterBrokerBody, budget: number, token: string) {
  const parts = encodeRegisterBody(b, budget);
  return parts.map((p, i) => {
    const h: Record<string, string | number> = { ...id };
    if (p.deflated) h[BODY_ENCODING_HEADER] = DEFLATE;
    if (parts.length > 1) Object.assign(h, { part: i, parts: parts.length, registration: token });
    return request(RequestCode.REGISTER_BROKER, h, p.body);
  });
}

describe('registration in parts', () => {
  it('changes no route before the last part, then replaces the topic set in one step', () => {
    const names = randomTopicNames(600, 127);
    let table: RouteTable = emptyRouteTable();
    let pending: PendingRegistrations = NO_PENDING;
    // the broker was registered with an older topic set
    const old = handleNamesrvRequest(table, frames(body(['old-topic'], 1), 1 << 20, 't0')[0]!, 0, pending);
    table = old.table;
    const fs = frames(body(names, 2), 8 * 1024, 't1');
    expect(fs.length).toBeGreaterThan(3);
    fs.forEach((f, i) => {
      const r = handleNamesrvRequest(table, f, 10 + i, pending);
      expect(r.reply.status).toBe(Status.OK);
      table = r.table;
      pending = r.pending;
      if (i < fs.length - 1) {
        expect(r.reply.header.partial).toBe(true);
        expect(topicList(table)).toEqual(['old-topic']);
      }
    });
    expect(topicList(table)).toEqual([...names].sort());
    expect(routeByTopic(table, names[123]!)?.queueDatas[0]?.brokerName).toBe('a');
    expect(pending.size).toBe(0);
  });

  it('refuses a part that does not follow; a newer attempt supersedes an older one', () => {
    const b = body(randomTopicNames(300, 100));
    const tok = { part: 0, parts: 3, token: 'x' };
    const p0 = takePart(NO_PENDING, id, tok, b, 0).pending;
    const code = (f: () => unknown): number | undefined => {
      try {
        f();
        return undefined;
      } catch (err) {
        return (err as StatusError).status;
      }
    };
    expect(code(() => takePart(p0, id, { ...tok, part: 2 }, b, 1))).toBe(Status.BAD_FRAME); // skips part 1
    expect(code(() => takePart(p0, id, { ...tok, part: 1, token: 'y' }, b, 1))).toBe(Status.BAD_FRAME); // other attempt
    expect(code(() => takePart(p0, id, { ...tok, part: 1 }, { ...b, dataVersion: { timestamp: 5, counter: 9 } }, 1))).toBe(Status.BAD_FRAME);
    expect(code(() => takePart(p0, id, { part: 0, parts: 999, token: 'z' }, b, 1))).toBe(Status.BAD_FRAME);
    // attempt y starts over: x's next part is refused, y completes
    const py = takePart(p0, id, { part: 0, parts: 2, token: 'y' }, b, 2).pending;
    expect(code(() => takePart(py, id, { ...tok, part: 1 }, b, 3))).toBe(Status.BAD_FRAME);
    const done = takePart(py, id, { part: 1, parts: 2, token: 'y' }, b, 3);
    expect(done.complete?.topics).toHaveLength(600);
    expect(done.pending.size).toBe(0);
  });

  it('drops unfinished registrations after their age bound', () => {
    const p = takePart(NO_PENDING, id, { part: 0, parts: 2, token: 'x' }, body(['t']), 1_000).pending;
    expect(expirePending(p, 2_000, 5_000).size).toBe(1);
    expect(expirePending(p, 7_000, 5_000).size).toBe(0);
  });

  it('yields exactly the parts concatenated, for any split (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z]{1,8}$/), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 40 }), (names, per) => {
        const all = topicConfigs(names);
        const chunks: (typeof all)[] = [];
        for (let i = 0; i < all.length; i += per) chunks.push(all.slice(i, i + per));
        let pending: PendingRegistrations = NO_PENDING;
        let complete: RegisterBrokerBody | undefined;
        chunks.forEach((topics, i) => {
          expect(complete).toBeUndefined();
          const r = takePart(pending, id, { part: i, parts: chunks.length, token: 't' }, { dataVersion: { timestamp: 1, counter: 1 }, topics }, i);
          pending = r.pending;
          complete = r.complete;
        });
        expect(complete?.topics).toEqual(all);
      }),
      { numRuns: 100 },
    );
  });
});
