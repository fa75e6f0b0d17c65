import { isRequestCode, RequestCode, requestCodeName } from '../../../actors/protocol/request-codes.js';

describe('request codes', () => {
  it('are unique uint16 values with RocketMQ numbers', () => {
    const values = Object.values(RequestCode);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) expect(v > 0 && v <= 0xffff && Number.isInteger(v)).toBe(true);
    expect(RequestCode.SEND_MESSAGE).toBe(10);
    expect(RequestCode.REGISTER_BROKER).toBe(103);
    expect(RequestCode.SEND_BATCH_MESSAGE).toBe(320);
  });

  it('have names', () => {
    expect(requestCodeName(RequestCode.PULL_MESSAGE)).toBe('PULL_MESSAGE');
    expect(requestCodeName(9999)).toBe('REQUEST_9999');
    expect(isRequestCode(105)).toBe(true);
    expect(isRequestCode(9999)).toBe(false);
  });
});
