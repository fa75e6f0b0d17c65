/* `mq produce` and `mq consume` (definitions; the work is in produce-run.ts and consume-run.ts). */
import type { Command } from 'commander';
import { connectionOptions, idList, oneOf, positiveInt } from './flags.js';
import type { ProduceFlags } from './produce-run.js';
import type { ConsumeFlags } from './consume-run.js';

export function registerProduce(program: Command): void {
  connectionOptions(
    program
      .command('produce')
      .description('send messages to a topic; prints one summary line (with --json: one line per acknowledged message, then the summary)')
      .requiredOption('--namesrv <ids>', 'name server ids, comma separated', idList)
      .requiredOption('--topic <topic>', 'topic')
      .requiredOption('--count <n>', 'how many messages', positiveInt)
      .option('--size <bytes>', 'body size in bytes (default: a short text)', positiveInt)
      .option('--tags <tag>', 'tag of every message')
      .option('--key-prefix <prefix>', 'give message i the key <prefix><i>')
      .option('--group <group>', 'producer group', 'mq-cli-producer')
      .option('--concurrency <n>', 'sends in flight at once', positiveInt, 16)
      .option('--json', 'one JSON line per acknowledged message (status, msgId, uniqKey, brokerName, queueId, queueOffset), then {"summary":...}'),
  ).action(async (f: ProduceFlags) => (await import('./produce-run.js')).runProduce(f));
}

export function registerConsume(program: Command): void {
  connectionOptions(
    program
      .command('consume')
      .description('consume a topic and print its messages (one JSON line each with --json); exits after --count')
      .requiredOption('--namesrv <ids>', 'name server ids, comma separated', idList)
      .requiredOption('--group <group>', 'consumer group')
      .requiredOption('--topic <topic>', 'topic')
      .option('--tags <expr>', "tag expression ('*', 'TagA || TagB')", '*')
      .option('--count <n>', 'exit after this many messages (default: run until SIGINT)', positiveInt)
      .option('--from <where>', 'where a group without committed offsets starts: first or last', oneOf('first', 'last'), 'first')
      .option('--timeout <ms>', 'fail when --count messages have not arrived within this time', positiveInt)
      .option('--broadcast', 'read every queue (broadcasting) instead of sharing them with the group')
      .option('--json', 'one JSON line per message (msgId, uniqKey, topic, queue, offsets, times, body)'),
  ).action(async (f: ConsumeFlags) => (await import('./consume-run.js')).runConsume(f));
}
