/* What `mq consume` does once its flags are parsed. */
import { startConsumer } from '../../actors/consumer/consumer.js';
import type { MessageExt } from '../../core/message.js';
import { connectSystem } from './connect.js';
import { CliError, credentialsOf, outJson, type ConnectionFlags } from './flags.js';
import { messageJson, messageLine } from './format.js';
import { noProgress, startProgress, type Progress } from './progress.js';

export interface ConsumeFlags extends ConnectionFlags {
  namesrv: string[];
  group: string;
  topic: string;
  tags: string;
  count?: number;
  from: 'first' | 'last';
  timeout?: number;
  broadcast?: boolean;
  json?: boolean;
}

type Stop = { stop: 'timeout' | 'signal' };

export async function runConsume(f: ConsumeFlags): Promise<void> {
    const system = await connectSystem(f, 'mq-consume');
    let received = 0;
    let stoppedBy: Stop['stop'] | undefined;
    const timers: NodeJS.Timeout[] = [];
    const onSignal: { fn?: () => void } = {};
    let progress: Progress = noProgress();
    try {
      const consumer = await startConsumer(system, {
        group: f.group,
        namesrv: f.namesrv,
        subscribe: { [f.topic]: f.tags },
        consumeFrom: f.from,
        model: f.broadcast ? 'BROADCASTING' : 'CLUSTERING',
        ...credentialsOf(f),
      });
      const stopper = new Promise<Stop>((resolve) => {
        if (f.timeout !== undefined) timers.push(setTimeout(() => resolve({ stop: 'timeout' }), f.timeout));
        onSignal.fn = () => resolve({ stop: 'signal' });
        process.once('SIGINT', onSignal.fn);
        process.once('SIGTERM', onSignal.fn);
      });
      if (f.count !== undefined) progress = startProgress({ total: f.count, label: 'received', json: f.json });
      const it = consumer[Symbol.asyncIterator]();
      try {
        while (f.count === undefined || received < f.count) {
          const r: IteratorResult<MessageExt> | Stop = await Promise.race([it.next(), stopper]);
          if ('stop' in r) {
            stoppedBy = r.stop;
            break;
          }
          if (r.done) break;
          received++;
          if (f.json) outJson(messageJson(r.value));
          else progress.line(messageLine(r.value));
          progress.increment();
        }
      } finally {
        await it.return?.();
        await consumer.stop();
      }
    } finally {
      progress.stop();
      for (const t of timers) clearTimeout(t);
      if (onSignal.fn) {
        process.off('SIGINT', onSignal.fn);
        process.off('SIGTERM', onSignal.fn);
      }
      await system.stop();
    }
    if (stoppedBy === 'timeout') throw new CliError(`received ${received} of ${f.count ?? '?'} messages within ${f.timeout} ms`);
}
