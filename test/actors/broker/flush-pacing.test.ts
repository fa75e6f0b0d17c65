import { resolveBrokerOptions } from '../../../actors/broker/broker-options.js';

describe('the flushPacing broker option', () => {
  const base = { name: 'b', namesrv: [], storeDir: '/d' };
  it("takes 'adaptive' or 'interval' and names what it takes otherwise", () => {
    expect(resolveBrokerOptions({ ...base, flushPacing: 'interval' })).toMatchObject({ flushPacing: 'interval' });
    expect(resolveBrokerOptions(base).flushPacing).toBeUndefined(); // the store's default: adaptive
    expect(() => resolveBrokerOptions({ ...base, flushPacing: 'sometimes' as 'adaptive' })).toThrow(/flushPacing must be 'adaptive' or 'interval', got "sometimes"/);
  });
});
