import { nextPreference, restoreRetryTopic } from '../../../actors/consumer/pull-loop.js';
import { MessageProperty, type MessageExt } from '../../../core/message.js';

const ext = (topic: string, properties?: Record<string, string>): MessageExt => ({ topic, properties, body: new Uint8Array(0) }) as MessageExt;

describe('pull loop', () => {
  it('shows a retried message under the topic it was first sent to', () => {
    const m = ext('%RETRY%g', { [MessageProperty.RETRY_TOPIC]: 'T' });
    expect(restoreRetryTopic(m)).toEqual({ ...m, topic: 'T' });
  });

  it('leaves a message as it is when it is not on a retry topic or does not say where it came from', () => {
    const plain = ext('T', { [MessageProperty.RETRY_TOPIC]: 'X' });
    expect(restoreRetryTopic(plain)).toBe(plain);
    const unmarked = ext('%RETRY%g');
    expect(restoreRetryTopic(unmarked)).toBe(unmarked);
  });
});

describe('pull loop: the broker a queue prefers', () => {
  it('follows each suggestion, 0 meaning the master, and keeps its preference when a reply suggests nothing', () => {
    expect(nextPreference(undefined, 1)).toBe(1);
    expect(nextPreference(1, 0)).toBeUndefined();
    expect(nextPreference(2, undefined)).toBe(2);
    expect(nextPreference(undefined, undefined)).toBeUndefined();
    expect(nextPreference(1, 'x')).toBeUndefined();
    expect(nextPreference(1, -1)).toBeUndefined();
  });
});
