/* What `mq produce` does once its flags are parsed. */
import { startProducer } from '../../actors/producer/producer.js';
import type { Message } from '../../core/message.js';
import { connectSystem } from './connect.js';
import { CliError, credentialsOf, errorMessage, out, outJson, type ConnectionFlags } from './flags.js';
import { makeBody, sendResultJson } from './format.js';
import { noProgress, startProgress, type Progress } from './progress.js';

export interface ProduceFlags extends ConnectionFlags {
  namesrv: string[];
  topic: string;
  count: number;
  size?: number;
  tags?: string;
  keyPrefix?: string;
  group: string;
  concurrency: number;
  json?: boolean;
}

export interface ProduceSummary {
  sent: number;
  acknowledged: number;
  failed: number;
  seconds: number;
  msgsPerSecond: number;
}

export async function runProduce(f: ProduceFlags): Promise<void> {
    const system = await connectSystem(f, 'mq-produce');
    let summary: ProduceSummary;
    let firstError: string | undefined;
    let progress: Progress = noProgress();
    try {
      const producer = await startProducer(system, { group: f.group, namesrv: f.namesrv, ...credentialsOf(f) });
      progress = startProgress({ total: f.count, label: 'sent', json: f.json });
      const start = performance.now();
      let next = 0;
      let acknowledged = 0;
      let failed = 0;
      const worker = async (): Promise<void> => {
        while (next < f.count) {
          const i = next++;
          const msg: Message = {
            topic: f.topic,
            body: makeBody(`message ${i}`, f.size),
            ...(f.tags !== undefined ? { tags: f.tags } : {}),
            ...(f.keyPrefix !== undefined ? { keys: [`${f.keyPrefix}${i}`] } : {}),
          };
          try {
            const r = await producer.send(msg);
            acknowledged++;
            if (f.json) outJson(sendResultJson(r));
          } catch (err) {
            failed++;
            firstError ??= errorMessage(err);
          }
          progress.increment();
        }
      };
      await Promise.all(Array.from({ length: Math.min(f.concurrency, f.count) }, worker));
      progress.stop();
      const seconds = (performance.now() - start) / 1000;
      summary = { sent: f.count, acknowledged, failed, seconds: Math.round(seconds * 1000) / 1000, msgsPerSecond: Math.round(acknowledged / Math.max(seconds, 1e-6)) };
      await producer.stop();
    } finally {
      progress.stop();
      await system.stop();
    }
    if (f.json) outJson({ summary });
    else out(`sent ${summary.sent}, acknowledged ${summary.acknowledged}, failed ${summary.failed} in ${summary.seconds.toFixed(3)} s (${summary.msgsPerSecond} msgs/s)`);
    if (summary.failed > 0) throw new CliError(`${summary.failed} of ${summary.sent} messages failed; first error: ${firstError ?? 'unknown'}`);
}
