import { endTransactionHeader, halfMessageOf } from '../../../actors/producer/transaction-producer.js';
import { Status } from '../../../core/status.js';

describe('transactional producer helpers', () => {
  it('marks a half message with TRAN_MSG and its group, keeping user properties; refuses delays', () => {
    const m = halfMessageOf({ topic: 't', body: Buffer.from('x'), properties: { a: '1' } }, 'tpg');
    expect(m.properties).toEqual({ a: '1', TRAN_MSG: 'true', PGROUP: 'tpg' });
    expect(() => halfMessageOf({ topic: 't', body: Buffer.from('x'), delayLevel: 2 }, 'g')).toThrow(expect.objectContaining({ status: Status.MESSAGE_ILLEGAL }));
    expect(() => halfMessageOf({ topic: 't', body: Buffer.from('x'), deliverAt: 5 }, 'g')).toThrow(/delayed/);
  });

  it('builds the END_TRANSACTION header from the half message send result', () => {
    expect(endTransactionHeader('g', { msgId: 'M', queueOffset: 4, transactionId: 'T' }, 'COMMIT', false)).toEqual({
      producerGroup: 'g',
      msgId: 'M',
      halfOffset: 4,
      transactionState: 'COMMIT',
      fromTransactionCheck: false,
      transactionId: 'T',
    });
    expect(endTransactionHeader('g', { msgId: 'M', queueOffset: 0 }, 'UNKNOWN', true)).not.toHaveProperty('transactionId');
  });
});
