import fc from 'fast-check';
import { topicListPage } from '../../../actors/namesrv/topic-list-page.js';
import { handleNamesrvRequest } from '../../../actors/namesrv/namesrv-requests.js';
import { emptyRouteTable, registerBroker } from '../../../actors/namesrv/route-table.js';
import { request } from '../../../actors/protocol/replies.js';
import { RequestCode } from '../../../actors/protocol/request-codes.js';
import { randomTopicNames, topicConfigs } from '../../support/topic-names.js';

/** Every name, read page by page as the admin client does. */
function readAll(sorted: string[], budget: number): string[][] {
  const pages: string[][] = [];
  let after: string | undefined;
  for (let i = 0; i <= sorted.length; i++) {
    const p = topicListPage(sorted, after, budget);
    pages.push(p.topics);
    if (!p.more) return pages;
    after = p.topics[p.topics.length - 1];
  }
  throw new Error('paging did not end');
}

describe('topic list pages', () => {
  it('lists every name exactly once, each page within the budget (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9_%|-]{1,30}$/), { maxLength: 200 }), fc.integer({ min: 1, max: 400 }), (names, budget) => {
        const sorted = [...names].sort();
        const pages = readAll(sorted, budget);
        expect(pages.flat()).toEqual(sorted);
        for (const p of pages) if (p.length > 1) expect(JSON.stringify(p).length).toBeLessThanOrEqual(budget);
      }),
      { numRuns: 100 },
    );
  });

  it('answers a name server with 10,000 long names in pages under 1 MiB', () => {
    const names = randomTopicNames(10_000, 127);
    const table = registerBroker(emptyRouteTable(), { cluster: 'c', brokerName: 'a', brokerId: 0, address: 'broker.a.0', dataVersion: { timestamp: 1, counter: 1 }, topics: topicConfigs(names) }, 0).table;
    const got: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 100; i++) {
      const r = handleNamesrvRequest(table, request(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, after === undefined ? {} : { after }), 0);
      expect(r.reply.body.length).toBeLessThan(1024 * 1024);
      const topics = (JSON.parse(new TextDecoder().decode(r.reply.body)) as { topics: string[] }).topics;
      got.push(...topics);
      if (r.reply.header.more !== true) break;
      after = topics[topics.length - 1];
    }
    expect(got).toEqual([...names].sort());
  });
});
