import { Status, StatusError } from '../../core/status.js';
import { DLQ_TOPIC_PREFIX, RETRY_TOPIC_PREFIX } from './validation.js';

/**
 * Delay levels and the retry path, as in RocketMQ: a message that fails to be consumed goes back to the broker
 * with delay level `3 + reconsumeTimes` into the group's retry topic, and after `maxReconsumeTimes` failures
 * into the group's dead-letter topic.
 */
export const DEFAULT_DELAY_LEVEL_SPEC = '1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h';
export const DEFAULT_MAX_RECONSUME_TIMES = 16;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a space-separated list like `1s 5s 1m 2h` into milliseconds; malformed input throws INVALID_ARGUMENT. */
export function parseDelayLevels(spec: string): number[] {
  const parts = spec.trim().split(/\s+/).filter((p) => p.length > 0);
  if (parts.length === 0) throw new StatusError(Status.INVALID_ARGUMENT, 'delay level spec is empty');
  return parts.map((p) => {
    const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(p);
    if (!m) throw new StatusError(Status.INVALID_ARGUMENT, `delay level "${p}" must be a number followed by ms, s, m, h or d`);
    const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
    if (ms <= 0) throw new StatusError(Status.INVALID_ARGUMENT, `delay level "${p}" must be positive`);
    return ms;
  });
}

export const DEFAULT_DELAY_LEVELS: readonly number[] = Object.freeze(parseDelayLevels(DEFAULT_DELAY_LEVEL_SPEC));

/** Delay of a 1-based level: 0 for level <= 0, the longest delay for levels past the end. */
export function delayForLevel(level: number, levels: readonly number[] = DEFAULT_DELAY_LEVELS): number {
  if (!(level >= 1) || levels.length === 0) return 0;
  return levels[Math.min(Math.floor(level), levels.length) - 1]!;
}

/** Delay level for a message being sent back after `reconsumeTimes` earlier retries (RocketMQ: 3 + n). */
export function retryLevel(reconsumeTimes: number): number {
  return 3 + Math.max(0, Math.floor(reconsumeTimes));
}

export function retryTopic(group: string): string {
  return RETRY_TOPIC_PREFIX + group;
}

export function dlqTopic(group: string): string {
  return DLQ_TOPIC_PREFIX + group;
}

export function isRetryTopic(topic: string): boolean {
  return topic.startsWith(RETRY_TOPIC_PREFIX);
}

export function isDlqTopic(topic: string): boolean {
  return topic.startsWith(DLQ_TOPIC_PREFIX);
}

/** Whether a message that failed after `reconsumeTimes` retries goes to the dead-letter topic. */
export function shouldDeadLetter(reconsumeTimes: number, maxReconsumeTimes = DEFAULT_MAX_RECONSUME_TIMES): boolean {
  return reconsumeTimes >= maxReconsumeTimes;
}
