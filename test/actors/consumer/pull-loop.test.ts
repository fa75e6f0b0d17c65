import { restoreRetryTopic } from '../../../actors/consumer/pull-loop.js';
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
