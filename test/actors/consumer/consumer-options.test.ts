import { allocateStrategies, resolveConsumerOptions, type ConsumerOptions } from '../../../actors/consumer/consumer-options.js';
import { allocateAveragely, allocateAveragelyByCircle, allocateConsistentHash } from '../../../actors/consumer/rebalance.js';
import { Status, StatusError } from '../../../core/status.js';

const base: ConsumerOptions = { group: 'g', namesrv: ['ns-1'], subscribe: { T: '*' } };

function invalid(opts: Partial<ConsumerOptions>): StatusError {
  try {
    resolveConsumerOptions({ ...base, ...opts });
  } catch (err) {
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).status).toBe(Status.INVALID_ARGUMENT);
    return err as StatusError;
  }
  throw new Error(`accepted ${JSON.stringify(opts)}`);
}

describe('consumer options', () => {
  it('fills in the defaults', () => {
    expect(resolveConsumerOptions(base)).toEqual({
      group: 'g',
      namesrv: ['ns-1'],
      subscribe: { T: '*' },
      listener: undefined,
      model: 'CLUSTERING',
      allocate: 'average',
      consumeFrom: 'last',
      orderly: false,
      lockRenewMs: 20000,
      suspendMs: 1000,
      rebalanceIntervalMs: 20000,
      pullBatch: 32,
      pullTimeoutMs: 15000,
      pullBackoffMs: 1000,
      maxCachedMessagesPerQueue: 1000,
      maxCachedBytesPerQueue: 100 * 1024 * 1024,
      commitIntervalMs: 5000,
      maxReconsumeTimes: 16,
      consumeBatchSize: 1,
      bufferSize: 256,
      localRetryDelayMs: 5000,
      routeRefreshMs: 30000,
      heartbeatIntervalMs: 30000,
      requestTimeoutMs: 3000,
      masterDownMs: 10000,
    });
  });

  it('keeps what was given', () => {
    const listener = () => 'SUCCESS' as const;
    const o = resolveConsumerOptions({ ...base, model: 'BROADCASTING', allocate: 'circle', consumeFrom: { timestamp: 5 }, pullBatch: 4, listener, maxReconsumeTimes: 0 });
    expect(o).toMatchObject({ model: 'BROADCASTING', allocate: 'circle', consumeFrom: { timestamp: 5 }, pullBatch: 4, maxReconsumeTimes: 0 });
    expect(o.listener).toBe(listener);
  });

  it('rejects bad options, naming what is wrong', () => {
    expect(invalid({ subscribe: {} }).message).toMatch(/at least one topic/);
    expect(invalid({ subscribe: { T: 'a || ' } }).message).toMatch(/empty alternative/);
    expect(invalid({ group: 'bad group' }).message).toMatch(/group name/);
    expect(invalid({ model: 'BOTH' as never }).message).toMatch(/unknown message model "BOTH"/);
    expect(invalid({ allocate: 'random' as never }).message).toMatch(/unknown allocation strategy "random"/);
    expect(invalid({ consumeFrom: 'middle' as never }).message).toMatch(/consumeFrom must be/);
    expect(invalid({ consumeFrom: { timestamp: 1.5 } }).message).toMatch(/consumeFrom must be/);
    expect(invalid({ pullBatch: 0 }).message).toMatch(/pullBatch must be a positive number, got 0/);
    expect(invalid({ commitIntervalMs: Number.NaN }).message).toMatch(/commitIntervalMs/);
    expect(invalid({ orderly: true, model: 'BROADCASTING', listener: () => 'SUCCESS' }).message).toMatch(/CLUSTERING/);
    expect(invalid({ orderly: true }).message).toMatch(/needs a listener/);
  });

  it('maps each allocate option to its strategy', () => {
    expect(allocateStrategies).toEqual({ average: allocateAveragely, circle: allocateAveragelyByCircle, 'consistent-hash': allocateConsistentHash });
  });
});
