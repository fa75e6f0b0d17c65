import fc from 'fast-check';
import {
  DEFAULT_DELAY_LEVELS,
  delayForLevel,
  dlqTopic,
  isDlqTopic,
  isRetryTopic,
  parseDelayLevels,
  retryLevel,
  retryTopic,
  shouldDeadLetter,
} from '../../../actors/protocol/retry-delay.js';
import { Status, StatusError } from '../../../core/status.js';
import { validateTopic } from '../../../actors/protocol/validation.js';

describe('delay levels', () => {
  it('has RocketMQ defaults', () => {
    expect(DEFAULT_DELAY_LEVELS).toEqual([
      1000, 5000, 10000, 30000, 60000, 120000, 180000, 240000, 300000, 360000, 420000, 480000, 540000, 600000, 1200000, 1800000, 3600000,
      7200000,
    ]);
  });

  it('parses units and rejects junk', () => {
    expect(parseDelayLevels(' 250ms  2s 3m 1h 1d ')).toEqual([250, 2000, 180000, 3600000, 86400000]);
    for (const bad of ['', '1', '1x', 's', '-1s', '1.5s', '0s', '1s, 2s']) {
      expect(() => parseDelayLevels(bad)).toThrow(StatusError);
      try {
        parseDelayLevels(bad);
      } catch (err) {
        expect((err as StatusError).status).toBe(Status.INVALID_ARGUMENT);
      }
    }
  });

  it('maps levels to delays, clamping at both ends', () => {
    expect(delayForLevel(0)).toBe(0);
    expect(delayForLevel(-3)).toBe(0);
    expect(delayForLevel(1)).toBe(1000);
    expect(delayForLevel(3)).toBe(10000);
    expect(delayForLevel(18)).toBe(7200000);
    expect(delayForLevel(99)).toBe(7200000);
    expect(delayForLevel(2, [7, 8])).toBe(8);
    expect(delayForLevel(1, [])).toBe(0);
  });

  it('is monotone in the level for the defaults', () => {
    fc.assert(fc.property(fc.integer({ min: -5, max: 30 }), fc.integer({ min: -5, max: 30 }), (a, b) => (a <= b ? delayForLevel(a) <= delayForLevel(b) : true)));
  });
});

describe('retry path', () => {
  it('follows RocketMQ: level 3 + reconsumeTimes, %RETRY% and %DLQ% topics, dead letter at max', () => {
    expect(retryLevel(0)).toBe(3);
    expect(retryLevel(5)).toBe(8);
    expect(delayForLevel(retryLevel(0))).toBe(10000);
    expect(retryTopic('billing')).toBe('%RETRY%billing');
    expect(dlqTopic('billing')).toBe('%DLQ%billing');
    expect(isRetryTopic(retryTopic('g'))).toBe(true);
    expect(isDlqTopic(dlqTopic('g'))).toBe(true);
    expect(isRetryTopic('orders')).toBe(false);
    expect(() => validateTopic(retryTopic('billing'), { allowSystem: true })).not.toThrow();
    expect(shouldDeadLetter(15)).toBe(false);
    expect(shouldDeadLetter(16)).toBe(true);
    expect(shouldDeadLetter(2, 2)).toBe(true);
    expect(shouldDeadLetter(1, 2)).toBe(false);
  });
});
