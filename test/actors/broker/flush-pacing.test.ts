import { resolveBrokerOptions } from '../../../actors/broker/broker-options.js';

describe('the flushPacing broker option', () => {
  const base = { name: 'b', namesrv: [], storeDir: '/d' };
  it("takes 'adaptive' or 'interval' and names what it takes otherwise", () => {
    expect(resolveBrokerOptions({ ...base, flushPacing: 'interval' })).toMatchObject({ flushPacing: 'interval' });
    expect(resolveBrokerOptions(base).flushPacing).toBeUndefined(); // the store's default (interval when consumers see written data, else adaptive)
    expect(() => resolveBrokerOptions({ ...base, flushPacing: 'sometimes' as 'adaptive' })).toThrow(/flushPacing must be 'adaptive' or 'interval', got "sometimes"/);
  });
});

describe('the visibility broker option', () => {
  const base = { name: 'b', namesrv: [], storeDir: '/d' };
  it("defaults to 'written' for a lone async-flush broker and to 'flushed' wherever replicas or a flush decide", () => {
    expect(resolveBrokerOptions(base).visibility).toBe('written');
    expect(resolveBrokerOptions({ ...base, flush: 'sync' }).visibility).toBe('flushed');
    expect(resolveBrokerOptions({ ...base, id: 1 }).visibility).toBe('flushed');
    expect(resolveBrokerOptions({ ...base, ha: { mode: 'sync' } }).visibility).toBe('flushed');
    expect(resolveBrokerOptions({ ...base, visibility: 'flushed' }).visibility).toBe('flushed');
  });

  it("refuses 'written' where a consumer could see what the group takes back, and names what to use", () => {
    expect(() => resolveBrokerOptions({ ...base, flush: 'sync', visibility: 'written' })).toThrow(/use 'flushed'/);
    expect(() => resolveBrokerOptions({ ...base, ha: { mode: 'sync' }, visibility: 'written' })).toThrow(/use 'flushed'/);
    expect(() => resolveBrokerOptions({ ...base, visibility: 'now' as 'written' })).toThrow(/visibility must be 'flushed' or 'written', got "now"/);
  });
});
