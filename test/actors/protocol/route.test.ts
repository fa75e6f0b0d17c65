import { isReadable, isWritable, PERM_INHERIT, PERM_READ, PERM_READ_WRITE, PERM_WRITE, readableQueues, writableQueues, type TopicRoute } from '../../../actors/protocol/route.js';

describe('route permissions and queues', () => {
  it('reads the permission bits', () => {
    expect([PERM_READ, PERM_WRITE, PERM_READ_WRITE, PERM_INHERIT].map(isReadable)).toEqual([true, false, true, false]);
    expect([PERM_READ, PERM_WRITE, PERM_READ_WRITE, PERM_INHERIT].map(isWritable)).toEqual([false, true, true, false]);
  });

  it('writes only to groups with a master, reads from groups with any address, by broker name', () => {
    const route: TopicRoute = {
      queueDatas: [
        { brokerName: 'b', readQueueNums: 1, writeQueueNums: 2, perm: PERM_READ_WRITE, topicSysFlag: 0 },
        { brokerName: 'a', readQueueNums: 2, writeQueueNums: 1, perm: PERM_READ_WRITE, topicSysFlag: 0 },
        { brokerName: 'c', readQueueNums: 1, writeQueueNums: 1, perm: PERM_READ, topicSysFlag: 0 },
      ],
      brokerDatas: [
        { cluster: 'c1', brokerName: 'b', addrs: { 1: 'b/1' } },
        { cluster: 'c1', brokerName: 'a', addrs: { 0: 'a/0' } },
        { cluster: 'c1', brokerName: 'c', addrs: { 0: 'c/0' } },
      ],
    };
    expect(writableQueues(route, 't')).toEqual([{ topic: 't', brokerName: 'a', queueId: 0 }]);
    expect(readableQueues(route, 't')).toEqual([
      { topic: 't', brokerName: 'a', queueId: 0 },
      { topic: 't', brokerName: 'a', queueId: 1 },
      { topic: 't', brokerName: 'b', queueId: 0 },
      { topic: 't', brokerName: 'c', queueId: 0 },
    ]);
  });
});
