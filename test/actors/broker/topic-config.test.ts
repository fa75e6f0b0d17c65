import fc from 'fast-check';
import { TopicTable, loadTopicTable, saveTopicTable, validateTopicConfig } from '../../../actors/broker/topic-config.js';
import { PERM_READ, PERM_READ_WRITE } from '../../../actors/protocol/route.js';
import { Status, StatusError } from '../../../core/status.js';
import { SimClock } from '../../../core/clock.js';
import { SeededRandom } from '../../../core/random.js';
import { memoryStorage } from '../../../store/backends/memory.js';

const cfg = (topicName: string, n = 4, perm = PERM_READ_WRITE) => ({ topicName, readQueueNums: n, writeQueueNums: n, perm, topicSysFlag: 0 });

describe('topic table', () => {
  it('auto-creates with the default queue counts and bumps the data version once', () => {
    const t = new TopicTable({ defaultQueueNums: 4 }, undefined, 1000);
    const a = t.ensureForSend('orders', 2000, 18);
    expect(a.created).toBe(true);
    expect(a.config).toEqual(cfg('orders'));
    expect(t.dataVersion).toEqual({ timestamp: 2000, counter: 1 });
    expect(t.ensureForSend('orders', 3000, 18).created).toBe(false);
    expect(t.dataVersion.counter).toBe(1);
  });

  it('refuses unknown topics when auto-creation is off, but creates system topics', () => {
    const t = new TopicTable({ autoCreate: false });
    expect(() => t.ensureForSend('orders', 1, 18)).toThrow(expect.objectContaining({ status: Status.TOPIC_NOT_EXIST }));
    expect(t.ensureForSend('%RETRY%g', 1, 18).config.writeQueueNums).toBe(1);
    expect(t.ensureForSend('SCHEDULE_TOPIC_XXXX', 1, 18).config.writeQueueNums).toBe(18);
    expect(() => new TopicTable().ensureForSend('RMQ_SYS_X', 1, 18)).toThrow(StatusError);
  });

  it('upserts only on change and deletes', () => {
    const t = new TopicTable({ autoCreate: false });
    expect(t.upsert(cfg('a'), 5)).toBe(true);
    expect(t.upsert(cfg('a'), 6)).toBe(false);
    expect(t.upsert(cfg('a', 8, PERM_READ), 7)).toBe(true);
    expect(t.get('a')?.perm).toBe(PERM_READ);
    expect(t.dataVersion.counter).toBe(2);
    expect(t.delete('a', 8)).toBe(true);
    expect(t.delete('a', 9)).toBe(false);
    expect(t.list()).toEqual([]);
    expect(t.dataVersion.counter).toBe(3);
  });

  it('validates configurations', () => {
    expect(() => validateTopicConfig(cfg('bad topic'))).toThrow(StatusError);
    expect(() => validateTopicConfig(cfg('ok', 0))).toThrow(/readQueueNums/);
    expect(() => validateTopicConfig({ ...cfg('ok'), perm: 99 })).toThrow(/perm/);
    expect(() => validateTopicConfig(cfg('%DLQ%g'))).toThrow(/reserved/);
    expect(validateTopicConfig(cfg('%DLQ%g'), true).topicName).toBe('%DLQ%g');
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), fc.integer({ min: -2, max: 2000 }), (name, n) => {
        try {
          const c = validateTopicConfig(cfg(name, n));
          return c.readQueueNums >= 1 && c.readQueueNums <= 1024 && /^[A-Za-z0-9_%|-]+$/.test(c.topicName);
        } catch (e) {
          return e instanceof StatusError && e.status === Status.INVALID_ARGUMENT;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('persists atomically and loads back with its data version', async () => {
    const clock = new SimClock();
    const storage = memoryStorage({ clock, random: new SeededRandom(1) });
    const t = loadTopicTable(storage, '/s', {}, clock.now());
    t.ensureForSend('orders', 10, 18);
    t.upsert(cfg('b', 2), 11);
    await saveTopicTable(storage, '/s', t);
    expect(storage.exists('/s/config/topics.json')).toBe(true);
    const back = loadTopicTable(storage, '/s', {}, 0);
    expect(back.list()).toEqual(t.list());
    expect(back.dataVersion).toEqual(t.dataVersion);
  });

  it('carries the auto-create key topic only while auto-creation is on, so producers find brokers for new topics', () => {
    const on = new TopicTable({ defaultQueueNums: 2 });
    expect(on.get('TBW102')).toMatchObject({ writeQueueNums: 2, readQueueNums: 2 });
    expect(on.list().map((c) => c.topicName)).toContain('TBW102');
    const off = new TopicTable({ autoCreate: false }, { dataVersion: { timestamp: 1, counter: 1 }, topics: on.list() });
    expect(off.get('TBW102')).toBeUndefined();
  });
});
